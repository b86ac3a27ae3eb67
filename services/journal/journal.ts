/**
 * The replicated journal of one log: a JetStream stream on
 * `urna.<log>.journal` holding one message per sequenced batch (DESIGN.md
 * "Durability and no forks"). Stream sequence N (1-based) is the N-th batch;
 * batch N starts where batch N-1 ended (`firstIndex` = previous `size`).
 *
 * The fence against forks: every append is published with
 * `Nats-Expected-Last-Sequence: <the sequence the appender last saw>`. The
 * stream leader applies appends one at a time, so of two sequencers that
 * both believe they lead and both append after sequence N, exactly one gets
 * N+1; the other gets a wrong-last-sequence error (JournalConflictError)
 * and nothing of its batch is stored. It must step down, re-read the journal
 * and rebuild from it. This holds whatever the lease says (lease.ts), which
 * is why the lease only needs to be mostly right.
 *
 * Retries are idempotent: each append carries `Nats-Msg-Id: <size>-<root>`.
 * The server checks the message id before the expected sequence, so a retry
 * of an append whose acknowledgement was lost is answered with the original
 * sequence (within the stream's duplicate window) rather than a conflict.
 *
 * Durability: an acknowledged append is stored on a majority of the stream's
 * replicas (R3) or on the one server (R1), but nats-server 2.9.10 (Debian)
 * acknowledges before fsync, so a power loss of a majority can lose an
 * acknowledged batch; newer servers run with `sync_interval: always` do not.
 * Machine crashes of a minority of an R3 stream lose nothing acknowledged.
 *
 * Reading (`readUntilEnd`, `follow`) goes by stream sequence through the
 * stream's message-get API, which the stream leader answers, with no
 * server-side consumer to lose when a node dies; every batch read is
 * checked to continue the previous one (JournalGapError otherwise).
 *
 * Message encoding (`encodeBatch`), all integers big-endian:
 *
 *     magic    4 bytes  "UJB" 0x01
 *     first    uint64   index of the batch's first entry
 *     size     uint64   tree size after the batch (= first + number of entries)
 *     root     32 bytes tree root at `size` (RFC 9162 §2.1)
 *     entries  (size - first) times: uint32 length, then the entry's bytes
 *
 * Deterministic (one encoding per batch) and strict: `decodeBatch` rejects
 * anything that `encodeBatch` would not produce.
 */
import {
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type NatsError,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { checkIndex, readUint64BE, toHex, uint64BE } from '../../ledger/bytes.js';
import { MalformedError, UrnaError } from '../../ledger/errors.js';
import { HASH_SIZE } from '../../ledger/hash.js';
import { journalStreamName, subjects } from './subjects.js';
import { errorText } from '../log.js';
import type { JournalBatch } from '../node/replicator.js';
import { apiErrCode, JS_ERR, whileSettling } from './jetstream.js';

export { logToken, subjects } from './subjects.js';

/** The first bytes of every encoded batch: "UJB" and format version 1. */
export const BATCH_MAGIC = new Uint8Array([0x55, 0x4a, 0x42, 0x01]);
/** Bytes of an encoded batch before its entries: magic, first, size, root. */
export const BATCH_HEADER_BYTES = BATCH_MAGIC.length + 8 + 8 + HASH_SIZE;
/** Bytes each entry adds besides its own: the uint32 length prefix. */
export const ENTRY_OVERHEAD_BYTES = 4;
/**
 * Room left in a NATS message for the headers of an append (message id,
 * expected last sequence): the server counts headers against `max_payload`
 * and the stream's `max_msg_size`.
 */
export const HEADER_ROOM_BYTES = 1024;

/** A batch read back from the journal, with its stream sequence (1-based). */
export interface JournalRecord {
  seq: number;
  batch: JournalBatch;
  /** When the stream stored it (the stream leader's clock, milliseconds since the epoch). */
  storedAt: number;
}

/**
 * An append lost the race: the journal's last sequence was not the expected
 * one, and this attempt stored nothing. `lastSequence` is the journal's
 * actual last sequence when the server says so, else null. The caller steps
 * down and re-reads the journal from its last known sequence; after retries
 * (a lost acknowledgement, then a stream leader change or the duplicate
 * window passing) the batch found there may be its own.
 */
export class JournalConflictError extends UrnaError {
  constructor(
    readonly expectedLastSequence: number,
    readonly lastSequence: number | null,
    message?: string,
  ) {
    super(
      'journal_conflict',
      message ??
        `journal append expected last sequence ${expectedLastSequence}, ` +
          `the journal is at ${lastSequence ?? 'another sequence'}`,
    );
  }
}

/**
 * The journal did not answer an append in time. The outcome is unknown: the
 * batch may or may not be stored. Re-read the journal before going on.
 */
export class JournalUnavailableError extends UrnaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('journal_unavailable', message, options);
  }
}

/**
 * The journal does not read as one chain of batches: a stream sequence is
 * missing, or a batch does not start where the previous one ended.
 */
export class JournalGapError extends UrnaError {
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super('journal_gap', message);
  }
}

/** Encoded size of a batch with entries of these lengths (for batch caps). */
export function encodedBatchBytes(entryLengths: Iterable<number>): number {
  let n = BATCH_HEADER_BYTES;
  for (const len of entryLengths) n += ENTRY_OVERHEAD_BYTES + len;
  return n;
}

/**
 * Encodes a batch (format in the module comment). Throws TypeError for a
 * root that is not 32 bytes and RangeError for sizes that do not add up
 * (`size` must be `firstIndex + entries.length`) or an entry beyond 2^32-1.
 */
export function encodeBatch(batch: JournalBatch): Uint8Array {
  const firstIndex = checkIndex('encodeBatch: firstIndex', batch.firstIndex);
  const size = checkIndex('encodeBatch: size', batch.size);
  if (!(batch.root instanceof Uint8Array) || batch.root.length !== HASH_SIZE)
    throw new TypeError(`encodeBatch: root must be ${HASH_SIZE} bytes`);
  if (size !== firstIndex + batch.entries.length)
    throw new RangeError(
      `encodeBatch: size ${size} is not firstIndex ${firstIndex} + ${batch.entries.length} entries`,
    );
  const out = new Uint8Array(encodedBatchBytes(batch.entries.map((e) => e.length)));
  const view = new DataView(out.buffer);
  out.set(BATCH_MAGIC, 0);
  out.set(uint64BE(firstIndex), 4);
  out.set(uint64BE(size), 12);
  out.set(batch.root, 20);
  let o = BATCH_HEADER_BYTES;
  for (const e of batch.entries) {
    if (e.length > 0xffffffff) throw new RangeError('encodeBatch: entry longer than 2^32-1 bytes');
    view.setUint32(o, e.length);
    out.set(e, o + 4);
    o += 4 + e.length;
  }
  return out;
}

/**
 * Decodes `encodeBatch`. Throws MalformedError for a wrong magic, truncated
 * data, trailing bytes, sizes beyond the safe integers, or `size < first`.
 * The root and entries are plain Uint8Array copies: they do not alias
 * `data` (which may be a Node Buffer, whose `slice` would).
 */
export function decodeBatch(data: Uint8Array): JournalBatch {
  if (data.length < BATCH_HEADER_BYTES) throw new MalformedError('journal batch: truncated header');
  for (let i = 0; i < BATCH_MAGIC.length; i++) {
    if (data[i] !== BATCH_MAGIC[i]) throw new MalformedError('journal batch: bad magic or version');
  }
  const firstIndex = readUint64BE(data, 4);
  const size = readUint64BE(data, 12);
  if (size < firstIndex) throw new MalformedError(`journal batch: size ${size} < first index ${firstIndex}`);
  const root = copy(data, 20, 20 + HASH_SIZE);
  const count = size - firstIndex;
  // Each entry takes at least its 4-byte length: bound the count before allocating.
  if (count > (data.length - BATCH_HEADER_BYTES) / ENTRY_OVERHEAD_BYTES)
    throw new MalformedError('journal batch: truncated entries');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const entries: Uint8Array[] = [];
  let o = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (o + 4 > data.length) throw new MalformedError('journal batch: truncated entry length');
    const len = view.getUint32(o);
    o += 4;
    if (o + len > data.length) throw new MalformedError('journal batch: truncated entry');
    entries.push(copy(data, o, o + len));
    o += len;
  }
  if (o !== data.length) throw new MalformedError('journal batch: trailing bytes');
  return { firstIndex, size, root, entries };
}

/** A plain Uint8Array copy of `data[start, end)`. */
function copy(data: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(data.subarray(start, end));
}

export interface JournalOptions {
  /** Stream replicas: 1 (one server) or 3 (a cluster of at least three). Default 1. */
  replicas?: 1 | 3;
  /**
   * Largest encoded batch (`encodeBatch` bytes). Default and maximum: the
   * server's `max_payload` (1 MiB unless configured) less HEADER_ROOM_BYTES.
   * The sequencer must cap its batches with `encodedBatchBytes` to fit.
   */
  maxBatchBytes?: number;
  /**
   * How long an append (or a readUntilEnd request) keeps retrying through
   * leader elections and reconnects. Default 20 s: a stream leader election
   * on nats-server 2.9.10 was measured at 4–10 s.
   */
  appendTimeoutMs?: number;
  /** The stream's duplicate window (idempotent retries). Default 2 minutes. */
  duplicateWindowMs?: number;
}

/**
 * Failures worth retrying: timeouts, no responders (no stream leader yet),
 * disconnects, JetStream "temporarily unavailable". An append is retried
 * with the same message id and expectation, so a retry never doubles it.
 */
function isTransient(e: unknown): boolean {
  const ne = e as NatsError | undefined;
  if (!ne || typeof ne.code !== 'string') return false;
  if (ne.api_error) return ne.api_error.code === 503 || ne.api_error.code === 408;
  return ['TIMEOUT', '503', 'DISCONNECT', 'REQUEST_ERROR', 'CONNECTION_REFUSED'].includes(ne.code);
}

/**
 * How long one publish attempt waits for its acknowledgement. Short, since a
 * retry is idempotent (message id): a request lost with a dying node's
 * connection is re-sent after this, not after the whole append timeout.
 */
const ATTEMPT_TIMEOUT_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks that records read from `fromSeq` form one chain. */
class ChainCheck {
  private nextSeq: number;
  private nextIndex: number | null;

  constructor(fromSeq: number, firstIndex: number | undefined) {
    this.nextSeq = fromSeq;
    this.nextIndex = fromSeq === 1 ? 0 : (firstIndex ?? null);
    if (fromSeq === 1 && firstIndex !== undefined && firstIndex !== 0)
      throw new RangeError('journal read: the batch at sequence 1 starts at index 0');
  }

  check(record: JournalRecord): JournalRecord {
    const { seq, batch } = record;
    if (seq !== this.nextSeq)
      throw new JournalGapError(seq, `journal: expected sequence ${this.nextSeq}, read ${seq}`);
    if (this.nextIndex !== null && batch.firstIndex !== this.nextIndex)
      throw new JournalGapError(
        seq,
        `journal: batch ${seq} starts at index ${batch.firstIndex}, expected ${this.nextIndex}`,
      );
    this.nextSeq = seq + 1;
    this.nextIndex = batch.size;
    return record;
  }
}

export interface ReadOptions {
  /** The index the batch at `fromSeq` must start at (known from the batch before it). */
  firstIndex?: number;
}

export interface FollowOptions extends ReadOptions {
  /** Ends the iteration (it returns normally). */
  signal?: AbortSignal;
  /** When caught up, how often to look for new batches without a hint. Default 1000 ms. */
  pollMs?: number;
  /**
   * Wake up on each message published on the journal subject (default true).
   * Costs a second copy of every batch on the wire; without it, new batches
   * are seen within `pollMs`.
   */
  hints?: boolean;
}

export class Journal {
  /** The stream name (`urna_<log>_journal`). */
  readonly stream: string;
  /** The subject (`urna.<log>.journal`). */
  readonly subject: string;
  /** Reads in flight at most (message gets). */
  private readonly readWindow: number;
  private readonly wakers = new Set<() => void>();
  private closed = false;

  private constructor(
    readonly origin: string,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** Largest encoded batch this journal accepts (see JournalOptions.maxBatchBytes). */
    readonly maxBatchBytes: number,
    private readonly appendTimeoutMs: number,
  ) {
    this.stream = journalStreamName(origin);
    this.subject = subjects(origin).journal;
    this.readWindow = Math.max(1, Math.min(32, Math.floor((32 << 20) / (maxBatchBytes + HEADER_ROOM_BYTES))));
  }

  /**
   * Creates the journal's stream if it does not exist, or binds to it: file
   * storage, limits retention with no limits, `discard: new` (a full account
   * refuses appends rather than dropping old batches), no deletes or purges,
   * a duplicate window for idempotent retries, `max_msg_size` that fits
   * `maxBatchBytes`. Throws RangeError if `maxBatchBytes` exceeds what the
   * server accepts, or if an existing stream has another subject or replica
   * count; an existing stream with a smaller `max_msg_size` lowers
   * `maxBatchBytes` to fit it.
   */
  static async open(nc: NatsConnection, origin: string, opts: JournalOptions = {}): Promise<Journal> {
    const replicas = opts.replicas ?? 1;
    if (replicas !== 1 && replicas !== 3) throw new RangeError('Journal.open: replicas must be 1 or 3');
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    const limit = maxPayload - HEADER_ROOM_BYTES;
    let maxBatchBytes = opts.maxBatchBytes ?? limit;
    if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < BATCH_HEADER_BYTES || maxBatchBytes > limit)
      throw new RangeError(
        `Journal.open: maxBatchBytes must be between ${BATCH_HEADER_BYTES} and ${limit} ` +
          `(server max_payload ${maxPayload} less ${HEADER_ROOM_BYTES} for headers)`,
      );
    const stream = journalStreamName(origin);
    const subject = subjects(origin).journal;
    // Right after a node left or returned, JetStream's API (its account check here, the stream's
    // info below) can time out while the cluster settles: ask again, within a bound.
    const jsm = await whileSettling(() => nc.jetstreamManager());
    const config: Partial<StreamConfig> = {
      name: stream,
      description: `Urna journal of ${origin}`,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
      max_msgs_per_subject: -1,
      max_msg_size: maxBatchBytes + HEADER_ROOM_BYTES,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(opts.duplicateWindowMs ?? 120_000),
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
    };
    let info: StreamInfo;
    try {
      info = await whileSettling(() => jsm.streams.info(stream));
    } catch (e) {
      if (apiErrCode(e) !== JS_ERR.streamNotFound) throw e;
      try {
        info = await jsm.streams.add(config);
      } catch (e2) {
        // Another sequencer may have created it meanwhile: bind to it.
        info = await jsm.streams.info(stream).catch(() => Promise.reject(e2));
      }
    }
    const c = info.config;
    if (!c.subjects?.includes(subject))
      throw new RangeError(`Journal.open: stream ${stream} exists without subject ${subject}`);
    if (c.num_replicas !== replicas)
      throw new RangeError(
        `Journal.open: stream ${stream} exists with ${c.num_replicas} replicas, asked for ${replicas}`,
      );
    if (c.max_msg_size > 0) maxBatchBytes = Math.min(maxBatchBytes, c.max_msg_size - HEADER_ROOM_BYTES);
    return new Journal(origin, nc, nc.jetstream(), jsm, maxBatchBytes, opts.appendTimeoutMs ?? 20_000);
  }

  /**
   * Appends `batch` as stream sequence `expectedLastSeq + 1`, only if the
   * journal's last sequence is `expectedLastSeq` (0 for an empty journal).
   * Resolves with the new sequence once the stream acknowledged it (stored
   * on a majority of replicas). Retries transient failures (no stream
   * leader, reconnects) with the same message id until `appendTimeoutMs`.
   *
   * Throws JournalConflictError if the journal is elsewhere (nothing was
   * stored), JournalUnavailableError if no answer came in time (outcome
   * unknown), RangeError for an empty batch, one over `maxBatchBytes`, or a
   * bad sequence.
   */
  async append(batch: JournalBatch, expectedLastSeq: number): Promise<number> {
    checkIndex('Journal.append: expectedLastSeq', expectedLastSeq);
    // An empty batch would repeat the previous batch's (size, root), hence its message id.
    if (batch.entries.length === 0) throw new RangeError('Journal.append: empty batch');
    if (this.closed) throw new JournalUnavailableError('journal is closed');
    const data = encodeBatch(batch);
    if (data.length > this.maxBatchBytes)
      throw new RangeError(
        `Journal.append: batch of ${data.length} bytes exceeds maxBatchBytes ${this.maxBatchBytes}`,
      );
    const msgID = `${batch.size}-${toHex(batch.root)}`;
    const deadline = performance.now() + this.appendTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      try {
        const ack = await this.js.publish(this.subject, data, {
          msgID,
          expect: { lastSequence: expectedLastSeq },
          timeout: Math.max(500, Math.min(ATTEMPT_TIMEOUT_MS, left)),
        });
        if (ack.seq !== expectedLastSeq + 1) {
          // A duplicate of a batch with the same size and root stored at
          // another position: the journal is not the chain we expected.
          throw new JournalConflictError(
            expectedLastSeq,
            null,
            `journal already holds this batch at sequence ${ack.seq}, expected ${expectedLastSeq + 1}`,
          );
        }
        return ack.seq;
      } catch (e) {
        if (e instanceof JournalConflictError) throw e;
        const code = apiErrCode(e);
        if (code === JS_ERR.wrongLastSequence) {
          const desc = (e as NatsError).api_error?.description ?? '';
          const actual = /wrong last sequence: (\d+)/.exec(desc)?.[1];
          throw new JournalConflictError(expectedLastSeq, actual === undefined ? null : Number(actual));
        }
        if (code === JS_ERR.maxMsgSize)
          throw new RangeError(`Journal.append: the stream refused a batch of ${data.length} bytes`);
        if (!isTransient(e)) throw e;
        if (this.closed || performance.now() + 100 > deadline)
          throw new JournalUnavailableError(
            `journal append at ${expectedLastSeq + 1} unanswered after ${attempt + 1} attempts: ${errorText(e)}`,
            { cause: e },
          );
        await sleep(Math.min(250, 25 * 2 ** attempt));
      }
    }
  }

  /** The journal's last stream sequence (0 when empty), as its stream leader sees it. */
  async lastSequence(): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    return info.state.last_seq;
  }

  /** The batch at stream sequence `seq`, or null if there is none. Throws MalformedError if it does not decode. */
  async get(seq: number): Promise<JournalRecord | null> {
    checkIndex('Journal.get: seq', seq);
    if (seq === 0) return null;
    try {
      const m = await this.jsm.streams.getMessage(this.stream, { seq });
      return { seq: m.seq, batch: decodeBatch(m.data), storedAt: m.time.getTime() };
    } catch (e) {
      if (apiErrCode(e) === JS_ERR.messageNotFound) return null;
      throw e;
    }
  }

  /**
   * The batches from `fromSeq` up to the last sequence at the time of the
   * call, in order, checked as one chain (JournalGapError otherwise; the
   * batch at sequence 1 must start at index 0, and the one at `fromSeq` at
   * `opts.firstIndex` if given). Ends at once if `fromSeq` is past the end.
   * Retries transient failures (leader elections, reconnects) for up to
   * `appendTimeoutMs` without progress, then throws JournalUnavailableError.
   * Throws MalformedError for a batch that does not decode.
   */
  async *readUntilEnd(fromSeq = 1, opts: ReadOptions = {}): AsyncGenerator<JournalRecord> {
    checkSeq(fromSeq);
    yield* this.iterate(fromSeq, false, opts);
  }

  /**
   * Like readUntilEnd, then keeps yielding batches as they are appended,
   * until `opts.signal` aborts, the journal is closed, or the caller stops
   * iterating. Transient failures are retried without end, so it survives
   * node failures, stream leader changes and reconnects (see `iterate`).
   */
  async *follow(fromSeq = 1, opts: FollowOptions = {}): AsyncGenerator<JournalRecord> {
    checkSeq(fromSeq);
    yield* this.iterate(fromSeq, true, opts);
  }

  /**
   * Reads by stream sequence with the stream's message-get API (answered by
   * the stream leader, so never stale), up to `readWindow` requests in
   * flight, then yields in order. No server-side consumer: nothing to place,
   * lose or re-create when a node dies (nats.js ordered consumers on
   * nats-server 2.9.10 were seen to loop re-creating themselves for tens of
   * seconds after the node holding them was killed). When caught up, a
   * follower waits for the next message on the journal subject (a core NATS
   * subscription used only as a wake-up hint: a rejected append is
   * published there too, so its content is never trusted) or `pollMs`.
   */
  private async *iterate(
    fromSeq: number,
    follow: boolean,
    opts: FollowOptions,
  ): AsyncGenerator<JournalRecord> {
    const chain = new ChainCheck(fromSeq, opts.firstIndex);
    const pollMs = opts.pollMs ?? 1000;
    let hints = 0;
    const sleepers = new Set<() => void>();
    const poke = () => {
      for (const w of [...sleepers]) w();
    };
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          sleepers.delete(done);
          resolve();
        };
        const t = setTimeout(done, ms);
        sleepers.add(done);
      });
    const stopped = () => this.closed || opts.signal?.aborted === true;
    const hint =
      follow && opts.hints !== false
        ? this.nc.subscribe(this.subject, {
            callback: () => {
              hints++;
              poke();
            },
          })
        : null;
    opts.signal?.addEventListener('abort', poke);
    this.wakers.add(poke);
    const retry = <T>(f: () => Promise<T>) => this.retrying(f, follow, stopped, pause);
    try {
      let next = fromSeq;
      let seen = hints;
      let known = await retry(() => this.lastSequence());
      for (;;) {
        while (next <= known) {
          if (stopped()) return;
          const last = Math.min(known, next + this.readWindow - 1);
          const seqs = Array.from({ length: last - next + 1 }, (_, i) => next + i);
          const records = await Promise.all(seqs.map((seq) => retry(() => this.fetch(seq))));
          for (const r of records) yield chain.check(r);
          next = last + 1;
        }
        if (!follow || stopped()) return;
        if (hints === seen) await pause(pollMs);
        if (stopped()) return;
        seen = hints;
        known = await retry(() => this.lastSequence());
      }
    } catch (e) {
      if (e === STOPPED) return;
      throw e;
    } finally {
      opts.signal?.removeEventListener('abort', poke);
      this.wakers.delete(poke);
      hint?.unsubscribe();
    }
  }

  /** The batch at `seq`, which must exist (it is at or below a last sequence already seen). */
  private async fetch(seq: number): Promise<JournalRecord> {
    const r = await this.get(seq);
    if (r === null) throw new MissingBatch(seq);
    return r;
  }

  /**
   * Runs `f`, retrying transient failures with backoff: forever when
   * following (until stopped), else until `appendTimeoutMs` passes.
   */
  private async retrying<T>(
    f: () => Promise<T>,
    forever: boolean,
    stopped: () => boolean,
    pause: (ms: number) => Promise<void>,
  ): Promise<T> {
    const deadline = performance.now() + this.appendTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (stopped()) throw STOPPED;
      try {
        return await f();
      } catch (e) {
        if (!(e instanceof MissingBatch) && !isTransient(e)) throw e;
        if (!forever && performance.now() > deadline) {
          if (e instanceof MissingBatch)
            throw new JournalGapError(e.seq, `journal: batch ${e.seq} is missing below the last sequence`);
          throw new JournalUnavailableError(
            `journal read failed for ${this.appendTimeoutMs} ms: ${errorText(e)}`,
            {
              cause: e,
            },
          );
        }
        await pause(Math.min(1000, 25 * 2 ** attempt));
      }
    }
  }

  /** Ends every running read (they return normally). Does not close the connection (the caller owns it). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.wakers]) w();
  }
}

/** Thrown inside a read to unwind it when it was stopped. */
const STOPPED = Symbol('stopped');

/** A batch below a known last sequence that could not be read (yet): retried, then a gap. */
class MissingBatch extends Error {
  constructor(readonly seq: number) {
    super(`journal batch ${seq} not found`);
  }
}

function checkSeq(seq: number): number {
  checkIndex('Journal: fromSeq', seq);
  if (seq < 1) throw new RangeError('Journal: fromSeq starts at 1');
  return seq;
}
