/**
 * The sequencer: one small loop that turns a pool of submitted entries into
 * durable, signed tree heads and answers each submitter with its receipt.
 *
 * One tick (crash-safety reasoning beside each step):
 *  1. take up to `maxBatch` entries from the pool;
 *  2. admit them in order through the admission rules (a rejected entry gets
 *     its error; later entries see the earlier admitted ones);
 *  3. append the admitted entries to the in-memory tree (O(log n) state);
 *  4a. with a journal (Replicator): append the batch to it, expecting the
 *     journal sequence of the previous batch — before the local commit, so
 *     no receipt can exist for a batch the journal lacks. A crash after the
 *     append and before 4 is repaired at start-up by catching up from the
 *     journal (`open`). A conflict (another sequencer took the position) or
 *     an unanswered append stops this sequencer (it steps down): nothing is
 *     committed locally, and the batch's submitters get 503;
 *  4. commit tiles, bundles, leaf index, projections, the journal sequence
 *     and tree head in one atomic synced write — a crash before this point
 *     loses only entries nobody has a receipt for; after it, the batch is in
 *     the log;
 *  5. sign the checkpoint (the guard refuses an inconsistent one), store it
 *     and announce it on the journal's checkpoint subject — a crash here is
 *     repaired at start-up by re-signing the committed head, which yields the
 *     same bytes (deterministic Ed25519);
 *  6. answer every submitter with a tlog-proof receipt at that checkpoint.
 *
 * A failure in steps 1–4 fails that batch's submitters (503) and reloads the
 * in-memory tree from storage — unless the journal was involved (4a failed,
 * or 4 failed after 4a succeeded): then the journal may hold a batch the
 * store lacks, so the sequencer stops, and a restart catches up from the
 * journal. A failure after the commit is fatal for the
 * sequencer (the store and memory may disagree): it stops and refuses work
 * until restarted, which runs recovery (`open`) through the same steps 5–6.
 */
import { equalBytes, toHex } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError, UrnaError } from '../../ledger/errors.js';
import { leafHash as computeLeafHash, type Hash } from '../../ledger/hash.js';
import { proveConsistency } from '../../ledger/merkle.js';
import { openNote, type NoteSigner, type NoteVerifier } from '../../ledger/note.js';
import type { TreeAppender } from '../../ledger/appender.js';
import type { Tile } from '../../ledger/tile.js';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';
import type { LogNode, NodeStatus } from '../api/log-node.js';
import type { Registry } from '../metrics.js';
import type { LogStore } from '../storage/store.js';
import { acceptAll, DEFER, type Admission } from './admission.js';
import {
  applyJournalBatch,
  committedJournalSeq,
  errorText,
  journalSeqExtra,
  loadAppender,
  withLookahead,
} from './materialize.js';
import { receiptsAt, type PublishedHead, type SubmitResult } from './receipts.js';
import type { Replicator } from './replicator.js';
import { CheckpointSigner } from './signer.js';
import { StorageCorruptError, TileCache } from './tile-reader.js';

export { acceptAll, DEFER, type Admission, type BatchAdmission } from './admission.js';
export type { PublishedHead, SubmitResult } from './receipts.js';

/** 503 with Retry-After: the pool is full or the sequencer is recovering. */
export class PushbackError extends UrnaError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super('pushback', message);
  }
}

/** The sequencer stopped after a fatal error; a restart runs recovery. */
export class SequencerStoppedError extends UrnaError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

/** Points between the steps of a tick where a test can inject a crash. */
export type FaultPoint =
  | 'batch-start'
  | 'after-admit'
  | 'before-journal'
  | 'after-journal'
  | 'before-commit'
  | 'after-commit'
  | 'after-sign'
  | 'after-checkpoint-write'
  | 'after-answer';

export interface SequencerOptions {
  store: LogStore;
  signer: NoteSigner;
  verifier: NoteVerifier;
  /** Milliseconds between ticks. */
  batchPeriodMs?: number;
  /** Entries per tick at most; a full pool starts a tick early. */
  maxBatch?: number;
  /** Pending entries (pool and in-flight) at most before pushback. */
  maxPending?: number;
  admission?: Admission;
  /** The tile cache over `store` (shared with the admission hook); one is made if absent. */
  tiles?: TileCache;
  metrics?: Registry;
  /** Called at each fault point; may throw or kill the process. */
  fault?: (point: FaultPoint) => void;
  /**
   * The replicated journal. When present, every batch is appended to it
   * before its local commit, and `open` catches up from it before the
   * sequencer signs anything.
   */
  replicator?: Replicator;
  /** Called once when the sequencer stops by itself (fatal error, or it stepped down). */
  onStop?: (error: UrnaError) => void;
}

interface Pending {
  entry: Uint8Array;
  prepared: unknown;
  leafHash: Hash;
  key: string;
  enqueued: number;
  promise: Promise<SubmitResult>;
  resolve(r: SubmitResult): void;
  reject(e: unknown): void;
}

export class Sequencer implements LogNode {
  readonly origin: string;
  readonly tiles: TileCache;
  private readonly store: LogStore;
  private readonly admission: Admission;
  private readonly fault: (p: FaultPoint) => void;
  private readonly batchPeriodMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly guard: CheckpointSigner;
  private appender: TreeAppender;
  private published: PublishedHead;
  private pool: Pending[] = [];
  private readonly pending = new Map<string, Pending>();
  private lookups: Array<{ leafHash: Hash; resolve(i: number | null): void; reject(e: unknown): void }> = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private lastTickStart = 0;
  private ticking: Promise<void> | null = null;
  private stopped: UrnaError | null = null;
  private readonly replicator: Replicator | null;
  private readonly onStop: ((error: UrnaError) => void) | undefined;
  /** The journal sequence of the last committed batch (0: none). */
  private journalSeq = 0;
  private steppedDown = false;
  private readonly m;

  private constructor(
    opts: SequencerOptions,
    appender: TreeAppender,
    guard: CheckpointSigner,
    tiles: TileCache,
    published: PublishedHead,
  ) {
    this.origin = opts.signer.name;
    this.store = opts.store;
    this.admission = opts.admission ?? acceptAll;
    this.fault = opts.fault ?? (() => {});
    this.batchPeriodMs = opts.batchPeriodMs ?? 100;
    this.maxBatch = opts.maxBatch ?? 4096;
    this.maxPending = opts.maxPending ?? 65536;
    this.appender = appender;
    this.guard = guard;
    this.tiles = tiles;
    this.published = published;
    this.replicator = opts.replicator ?? null;
    this.onStop = opts.onStop;
    const r = opts.metrics;
    this.m = r
      ? {
          entries: r.counter('urna_entries_sequenced_total', 'Entries appended to the log.'),
          rejected: r.counter('urna_entries_rejected_total', 'Entries rejected at admission.'),
          duplicates: r.counter(
            'urna_entries_duplicate_total',
            'Resubmissions of entries already in the log.',
          ),
          batches: r.counter('urna_batches_total', 'Batches committed.'),
          batchFailures: r.counter('urna_batch_failures_total', 'Batches that failed before commit.'),
          batchSize: r.histogram(
            'urna_batch_size',
            'Entries per committed batch.',
            [1, 4, 16, 64, 256, 1024, 4096],
          ),
          commitSeconds: r.histogram(
            'urna_commit_seconds',
            'Synced commit duration.',
            [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
          ),
          latency: r.histogram(
            'urna_submit_to_receipt_seconds',
            'Submission to receipt.',
            [0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5],
          ),
          size: r.gauge(
            'urna_tree_size',
            'Entries in the log (signed checkpoint).',
            () => this.published.size,
          ),
          pool: r.gauge('urna_pool_depth', 'Entries waiting to be sequenced.', () => this.pool.length),
          pendingGauge: r.gauge('urna_pending', 'Entries waiting for a receipt.', () => this.pending.size),
          journalSeq: r.gauge(
            'urna_journal_sequence',
            'Journal sequence of the last committed batch (0 without a journal).',
            () => this.journalSeq,
          ),
          steppedDown: r.gauge(
            'urna_sequencer_stepped_down',
            '1 once the sequencer stepped down after a journal conflict or an unanswered append.',
            () => (this.steppedDown ? 1 : 0),
          ),
          journalFailures: r.counter(
            'urna_journal_append_failures_total',
            'Journal appends that failed (conflict or no answer); each steps the sequencer down.',
          ),
          replayed: r.counter('urna_journal_batches_replayed_total', 'Journal batches applied at start-up.'),
        }
      : null;
  }

  /**
   * Opens the log in `store`: loads the committed head, checks it against
   * the stored tiles, and (re-)signs it through the normal publish step if
   * the stored checkpoint is missing or older. Refuses to start on storage
   * that contradicts itself.
   */
  static async open(opts: SequencerOptions): Promise<Sequencer> {
    const { store, signer, verifier } = opts;
    if (verifier.name !== signer.name) throw new RangeError('verifier and signer keys differ');
    const tiles = opts.tiles ?? new TileCache(store);
    const appender = await loadAppender(store, tiles);
    let last: { size: number; root: Hash } | null = null;
    let checkpoint = await store.readCheckpoint();
    if (checkpoint !== null) {
      const c = parseCheckpoint(openNote(checkpoint, [verifier]).text);
      if (c.origin !== signer.name) throw new StorageCorruptError(`stored checkpoint is for ${c.origin}`);
      if (c.size > appender.size) {
        throw new StorageCorruptError(
          `stored checkpoint size ${c.size} is beyond the committed tree ${appender.size}`,
        );
      }
      last = { size: c.size, root: c.root };
    }
    const guard = new CheckpointSigner(signer.name, signer, last);
    const published = { size: 0, root: appender.root(), checkpoint: checkpoint ?? '' };
    const seq = new Sequencer(opts, appender, guard, tiles, published);
    // Before signing anything: apply the journal's batches after the last
    // committed one (a crash between 4a and 4, or an empty data dir).
    if (seq.replicator) await seq.catchUp();
    const size = seq.appender.size;
    if (checkpoint === null || last!.size < size) {
      checkpoint = await seq.publish(size, seq.appender.root());
    } else {
      seq.published = { size: last!.size, root: last!.root, checkpoint };
      // The stored checkpoint must be for the committed root, not just its size.
      if (!equalBytes(last!.root, seq.appender.root()))
        throw new StorageCorruptError('stored checkpoint root differs from committed head');
    }
    return seq;
  }

  /** The latest signed checkpoint and the tree it commits to. */
  get head(): PublishedHead {
    return this.published;
  }

  /** Entries waiting for the next tick. */
  get poolSize(): number {
    return this.pool.length;
  }

  /**
   * Starts ticking: a tick starts one batch period after the previous one
   * started, or at once if that time has passed (so a tick longer than the
   * period is followed straight away by the next), or as soon as the pool
   * holds a full batch.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops ticking, waits for the running tick; pending submissions are failed. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    this.failAll(new SequencerStoppedError('sequencer stopped'));
  }

  /** Runs one tick now (tests; also used when the pool fills). */
  async tick(): Promise<void> {
    this.kick();
    await this.ticking;
  }

  private schedule(): void {
    if (!this.running || this.timer || this.ticking || this.stopped) return;
    const wait = Math.max(0, this.lastTickStart + this.batchPeriodMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, wait);
  }

  private kick(): void {
    if (this.ticking || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lastTickStart = performance.now();
    this.ticking = this.runTick().finally(() => {
      this.ticking = null;
      if (this.pool.length >= this.maxBatch) this.kick();
      else this.schedule();
    });
  }

  /**
   * Submits an entry. Resolves with its receipt once the entry is durable and
   * covered by a signed checkpoint; an entry already in the log (or pending)
   * resolves to the same index. Rejects with the admission error, a
   * PushbackError when the pool is full, or SequencerStoppedError.
   */
  async submit(entry: Uint8Array): Promise<SubmitResult> {
    if (this.stopped) throw this.stopped;
    if (entry.length === 0) throw new UrnaError('empty', 'empty entry');
    if (entry.length > MAX_ENTRY_SIZE)
      throw new UrnaError('too_large', `entry of ${entry.length} bytes exceeds ${MAX_ENTRY_SIZE}`);
    const leafHash = computeLeafHash(entry);
    const key = toHex(leafHash);
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight.promise;
    const existing = await this.lookupLeaf(leafHash);
    if (existing !== null && existing !== undefined && existing < this.published.size) {
      this.m?.duplicates.inc();
      return this.receiptFor(existing, leafHash, true);
    }
    const prepared = await this.admission.prepare(entry);
    const again = this.pending.get(key); // another identical submission may have raced us
    if (again) return again.promise;
    if (this.stopped) throw this.stopped;
    if (this.pending.size >= this.maxPending) throw new PushbackError('pool is full, retry later');
    let resolve!: (r: SubmitResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<SubmitResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const p: Pending = {
      entry,
      prepared,
      leafHash,
      key,
      enqueued: performance.now(),
      promise,
      resolve,
      reject,
    };
    this.pending.set(key, p);
    this.pool.push(p);
    if (this.pool.length >= this.maxBatch) this.kick();
    return promise;
  }

  /**
   * Looks up a leaf's index. Lookups arriving in the same turn of the event
   * loop share one batched store read (submissions arrive one per request).
   */
  private lookupLeaf(leafHash: Hash): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (this.lookups.length === 0) {
        setImmediate(() => {
          const batch = this.lookups;
          this.lookups = [];
          this.store.lookupLeaves(batch.map((l) => l.leafHash)).then(
            (found) => batch.forEach((l, i) => l.resolve(found[i] ?? null)),
            (e: unknown) => batch.forEach((l) => l.reject(e)),
          );
        });
      }
      this.lookups.push({ leafHash, resolve, reject });
    });
  }

  /** A receipt for the entry at `index` at the latest signed checkpoint; verified before it is returned. */
  async receiptFor(index: number, leafHash: Hash, duplicate = false): Promise<SubmitResult> {
    const [result] = await this.receiptsFor([{ index, leafHash }], duplicate);
    return result!;
  }

  /** Receipts for several entries at the latest signed checkpoint (see `receiptsAt`). */
  private receiptsFor(
    leaves: ReadonlyArray<{ index: number; leafHash: Hash }>,
    duplicate = false,
    verifyAll = true,
  ): Promise<SubmitResult[]> {
    return receiptsAt(this.tiles, this.published, leaves, { duplicate, verifyAll });
  }

  /**
   * Step 1: takes up to `maxBatch` entries from the pool and, with a
   * journal, no more than fit in one journal message (at least one: a single
   * entry always fits, MAX_ENTRY_SIZE being far below the message limit).
   */
  private takeBatch(): Pending[] {
    if (!this.replicator) return this.pool.splice(0, this.maxBatch);
    const { maxBatchBytes } = this.replicator;
    const lengths: number[] = [];
    let n = 0;
    while (n < this.pool.length && n < this.maxBatch) {
      lengths.push(this.pool[n]!.entry.length);
      if (n > 0 && this.replicator.bytesOf(lengths) > maxBatchBytes) break;
      n++;
    }
    return this.pool.splice(0, n);
  }

  private async runTick(): Promise<void> {
    if (this.pool.length === 0) return;
    const batch = this.takeBatch();
    const admitted: Array<{ p: Pending; index: number }> = [];
    const deferred: Pending[] = [];
    let tiles: Array<{ tile: Tile; data: Uint8Array }> = [];
    // Set once the journal may hold this batch (4a was attempted): from then
    // on a failure cannot be undone by reloading the store.
    let journaled = false;
    // Steps 1–4: any failure here leaves the log as it was.
    try {
      this.fault('batch-start');
      const firstIndex = this.appender.size;
      const admission = await this.admission.begin(batch, firstIndex);
      for (const p of batch) {
        const index = this.appender.size;
        const rejection = admission.admit(p.entry, p.prepared, index);
        if (rejection === DEFER) {
          deferred.push(p);
          continue;
        }
        if (rejection) {
          this.m?.rejected.inc();
          this.settle(p, rejection);
          continue;
        }
        this.appender.appendEntry(p.entry, p.leafHash);
        admitted.push({ p, index });
      }
      this.pool.unshift(...deferred);
      this.fault('after-admit');
      if (admitted.length === 0) return;
      tiles = this.appender.takeTiles();
      const head = { size: this.appender.size, root: this.appender.root(), edge: this.appender.edge() };
      const leaves = admitted.map(({ p, index }) => ({ leafHash: p.leafHash, index }));
      const extra = admission.extra();
      if (this.replicator) {
        // Step 4a: the journal first. Expecting the previous batch's
        // sequence fences off any other sequencer (exactly one append wins a
        // position). A crash after the acknowledgement is repaired by the
        // catch-up in `open`; the submitters have no receipt yet.
        this.fault('before-journal');
        journaled = true;
        const seq = await this.replicator.append(
          { firstIndex, size: head.size, root: head.root, entries: admitted.map(({ p }) => p.entry) },
          this.journalSeq,
        );
        this.fault('after-journal');
        extra.push(journalSeqExtra(seq, head.size));
        this.journalSeq = seq;
      }
      this.fault('before-commit');
      const t0 = performance.now();
      await this.store.commit({ head, tiles, leaves, extra });
      this.m?.commitSeconds.observe((performance.now() - t0) / 1000);
    } catch (e) {
      this.m?.batchFailures.inc();
      this.pool = this.pool.filter((p) => !deferred.includes(p));
      if (journaled) {
        // The journal refused the batch (another sequencer holds the
        // position), did not answer, or took it while the store did not:
        // step down. A restart catches up from the journal.
        this.m?.journalFailures.inc();
        this.steppedDown = true;
        const stop = new SequencerStoppedError(`sequencer stepped down: ${errorText(e)}`);
        for (const p of batch) this.settle(p, stop);
        this.halt(e, 'sequencer stepped down');
        return;
      }
      for (const p of batch) this.settle(p, new PushbackError(`batch failed, retry: ${errorText(e)}`));
      await this.reload();
      return;
    }
    // Steps 5–6: the batch is durable; a failure now stops the sequencer.
    try {
      this.tiles.put(tiles);
      this.fault('after-commit');
      await this.publish(this.appender.size, this.appender.root());
      this.m?.entries.inc(admitted.length);
      this.m?.batches.inc();
      this.m?.batchSize.observe(admitted.length);
      const receipts = await this.receiptsFor(
        admitted.map(({ p, index }) => ({ index, leafHash: p.leafHash })),
        false,
        false,
      );
      admitted.forEach(({ p }, i) => {
        this.m?.latency.observe((performance.now() - p.enqueued) / 1000);
        this.settle(p, null, receipts[i]);
      });
      this.fault('after-answer');
    } catch (e) {
      this.halt(e);
    }
  }

  /**
   * Step 5, shared by every tick and by recovery: sign the committed head
   * (guarded) and store the checkpoint. Returns the signed note.
   */
  private async publish(size: number, root: Hash): Promise<string> {
    const last = this.guard.lastSigned;
    const proof =
      last && last.size > 0 && last.size < size
        ? await this.tiles.withHashes(size, (r) => proveConsistency(last.size, size, r))
        : [];
    const checkpoint = this.guard.sign(size, root, proof);
    this.fault('after-sign');
    await this.store.writeCheckpoint(checkpoint);
    this.fault('after-checkpoint-write');
    this.published = { size, root, checkpoint };
    try {
      // At most once, to whoever listens now; a missed one is superseded by the next.
      this.replicator?.publishCheckpoint(checkpoint);
    } catch {
      // a closed connection: the checkpoint is stored and served; nothing to undo
    }
    return checkpoint;
  }

  /**
   * Start-up: applies the journal's batches after the last committed one,
   * each through the same steps as a tick — admission (so projections are
   * rebuilt; the rules are deterministic, so an entry the journal holds was
   * admitted by them at this index), tree append, one atomic synced commit
   * with its journal sequence — checking each batch's first index, size and
   * root. A batch that disagrees is a fatal inconsistency: refuse to start.
   * Nothing is signed here; `open` signs the final head once. A crash midway
   * resumes from the last committed batch.
   */
  private async catchUp(): Promise<void> {
    this.journalSeq = await committedJournalSeq(this.store, this.appender.size);
    const batches = withLookahead(this.replicator!.readAfter(this.journalSeq, this.appender.size));
    for await (const {
      value: { seq, batch },
      more,
    } of batches) {
      await applyJournalBatch(
        { store: this.store, tiles: this.tiles, admission: this.admission, appender: this.appender },
        seq,
        batch,
        { durable: !more }, // the last one read is durable before anything is signed
      );
      this.journalSeq = seq;
      this.m?.replayed.inc();
    }
  }

  /** Answers a pending submission once; later calls for it do nothing. */
  private settle(p: Pending, error: unknown, result?: SubmitResult): void {
    if (this.pending.get(p.key) !== p) return;
    this.pending.delete(p.key);
    if (error) p.reject(error);
    else p.resolve(result!);
  }

  /** Reloads the in-memory tree from the committed head after a failed batch. */
  private async reload(): Promise<void> {
    try {
      this.appender = await loadAppender(this.store, this.tiles);
    } catch (e) {
      this.halt(e);
    }
  }

  private halt(e: unknown, why = 'sequencer stopped after a fatal error'): void {
    if (this.stopped) return;
    const reason =
      e instanceof InconsistentError || e instanceof StorageCorruptError ? e.message : errorText(e);
    this.stopped = new SequencerStoppedError(`${why}: ${reason}`);
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.failAll(this.stopped);
    this.onStop?.(this.stopped);
  }

  /**
   * Stops sequencing at once because this node no longer leads (its lease
   * was lost): pending submitters get 503, a batch already in flight
   * finishes (the journal fences it). Does nothing if already stopped.
   */
  stepDown(reason: string): void {
    if (this.stopped) return;
    this.steppedDown = true;
    this.halt(new Error(reason), 'sequencer stepped down');
  }

  /** The fatal error that stopped the sequencer, if any. */
  get fatal(): UrnaError | null {
    return this.stopped;
  }

  /** LogNode: a sequencer with a journal is its log's leader (until it steps down). */
  status(): NodeStatus {
    const fatal = this.stopped;
    return {
      role: this.replicator ? 'leader' : 'single',
      ok: !fatal,
      ...(fatal ? { error: fatal.message } : {}),
      ...(this.replicator ? { journal: { sequence: this.journalSeq, steppedDown: this.steppedDown } } : {}),
    };
  }

  private failAll(e: UrnaError): void {
    for (const p of [...this.pending.values()]) this.settle(p, e);
    this.pool = [];
  }
}
