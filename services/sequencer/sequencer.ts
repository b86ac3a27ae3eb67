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
 *  5. sign the checkpoint (the guard refuses an inconsistent one), record it
 *     durably in the signer state (outside the store: from then on a store
 *     that lacks this tree is never served or signed over), store it and
 *     announce it on the journal's checkpoint subject — a crash here is
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
import { openCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError, UrnaError } from '../../ledger/errors.js';
import { EMPTY_ROOT, leafHash as computeLeafHash, type Hash } from '../../ledger/hash.js';
import { proveConsistency, treeHash, type TreeHead } from '../../ledger/merkle.js';
import type { NoteSigner, NoteVerifier } from '../../ledger/note.js';
import type { TreeAppender } from '../../ledger/appender.js';
import type { Tile } from '../../ledger/tile.js';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';
import type { LogNode, NodeStatus } from '../node/log-node.js';
import type { Registry } from '../metrics.js';
import type { LogStore } from '../storage/store.js';
import { errorText, silentLogger, type Logger } from '../log.js';
import { acceptAll, DEFER, type Admission } from '../node/admission.js';
import {
  applyJournalBatch,
  committedJournalSeq,
  journalSeqExtra,
  loadAppender,
  withLookahead,
} from '../node/materialize.js';
import {
  receiptsAt,
  type EntryIndex,
  type EntryReceipt,
  type PublishedHead,
  type ReceiptWhen,
} from '../node/receipts.js';
import type { Replicator } from '../node/replicator.js';
import { CheckpointSigner } from './signer.js';
import { TileCache } from '../node/tile-cache.js';
import {
  isTransientIoError,
  StorageCorruptError,
  StorageUnavailableError,
  StoreBehindError,
} from '../storage/errors.js';
import type { SignerState } from '../storage/signer-state.js';

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
  /** The signer's memory outside the store: the last checkpoint signed (storage/signer-state.ts). */
  signerState: SignerState;
  /**
   * The least time, in milliseconds, between the starts of two ticks (the
   * floor of group commit): a tick starts as soon as an entry waits, the
   * previous tick is done (its batch durable and answered) and this much has
   * passed since the previous one started. Under load, batches grow to what
   * arrived during the previous tick; an idle log answers a lone submission
   * after one commit, not after a fixed period.
   */
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
  /**
   * Checked before a submission joins the pool and before each batch: an
   * error refuses writes with it for now (the free-space floor: 503 with
   * Retry-After; writes resume once it returns null).
   */
  canWrite?: () => UrnaError | null;
  /**
   * After a transient storage fault (StorageUnavailableError: a full disk,
   * no file descriptors): retry every `retryMs` (default 1000) and halt
   * after `giveUpMs` without success (default 60000).
   */
  storageRetry?: { retryMs?: number; giveUpMs?: number };
  /** Faults, recoveries, step-downs and pushback episodes, once each. */
  log?: Logger;
  /**
   * The entry a new log begins with (an election log's `log` record):
   * submitted when the sequencer starts over an empty log; `genesis` then
   * resolves with its receipt.
   */
  genesis?: Uint8Array;
  /** Called with each checkpoint once it is signed and stored (e.g. to offer it to witnesses); must not throw. */
  onCheckpoint?: (note: string) => void;
}

/** A checkpoint the log key signed, and where it was found. */
interface SignedCheckpoint extends TreeHead {
  note: string;
  where: string;
}

interface Pending {
  entry: Uint8Array;
  prepared: unknown;
  leafHash: Hash;
  key: string;
  enqueued: number;
  /** Whether the answer carries the receipt (someone submitted it with `now`). */
  receipt: boolean;
  promise: Promise<EntryIndex>;
  resolve(r: EntryIndex): void;
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
  private guard: CheckpointSigner;
  private readonly verifier: NoteVerifier;
  private readonly signerState: SignerState;
  private appender: TreeAppender;
  private published: PublishedHead;
  private pool: Pending[] = [];
  private readonly pending = new Map<string, Pending>();
  private lookups: Array<{ leafHash: Hash; resolve(i: number | null): void; reject(e: unknown): void }> = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private lastTickStart = -Infinity;
  private ticking: Promise<void> | null = null;
  private stopped: UrnaError | null = null;
  private readonly replicator: Replicator | null;
  private readonly onStop: ((error: UrnaError) => void) | undefined;
  /** The journal sequence of the last committed batch (0: none). */
  private journalSeq = 0;
  private steppedDown = false;
  /** A transient storage fault the sequencer is waiting out (no batches, submissions 503), since when. */
  private unavailable: { error: Error; since: number } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Corrupt storage met (a read, the scrub): writes are refused from then on. */
  private corruption: Error | null = null;
  private pushingBack = false;
  private draining = false;
  private readonly canWrite: () => UrnaError | null;
  private readonly retryMs: number;
  private readonly giveUpMs: number;
  private readonly log: Logger;
  private readonly genesisEntry: Uint8Array | null;
  private readonly onCheckpoint: ((note: string) => void) | null;
  private readonly m;

  private constructor(opts: SequencerOptions, appender: TreeAppender, tiles: TileCache) {
    this.origin = opts.signer.name;
    this.store = opts.store;
    this.admission = opts.admission ?? acceptAll;
    this.fault = opts.fault ?? (() => {});
    this.batchPeriodMs = opts.batchPeriodMs ?? 10;
    this.maxBatch = opts.maxBatch ?? 4096;
    this.maxPending = opts.maxPending ?? 65536;
    this.appender = appender;
    this.tiles = tiles;
    this.verifier = opts.verifier;
    this.signerState = opts.signerState;
    this.guard = new CheckpointSigner(opts.signer.name, opts.signer, null);
    this.published = { size: 0, root: appender.root(), checkpoint: '' };
    this.replicator = opts.replicator ?? null;
    this.onStop = opts.onStop;
    this.canWrite = opts.canWrite ?? (() => null);
    this.retryMs = opts.storageRetry?.retryMs ?? 1000;
    this.giveUpMs = opts.storageRetry?.giveUpMs ?? 60_000;
    this.log = opts.log ?? silentLogger;
    this.genesisEntry = opts.genesis ?? null;
    this.onCheckpoint = opts.onCheckpoint ?? null;
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
   * Opens the log in `store`: loads the committed head (checking the stored
   * edge against it), catches up from the journal if there is one, then
   * checks the store against every checkpoint this key is known to have
   * signed — the signer state (kept outside the store), the checkpoint
   * stored with the store, and the log's latest announced checkpoint (the
   * journal's feed) — and (re-)signs the committed head through the normal
   * publish step if it is beyond the last of them.
   *
   * Refuses to start (nothing is served or signed) on a store that is
   * behind a signed checkpoint (StoreBehindError: it lost entries that may
   * have receipts), that holds another tree at a signed size (signing over
   * it would fork the log), or that contradicts itself (both
   * StorageCorruptError).
   */
  static async open(opts: SequencerOptions): Promise<Sequencer> {
    const { store, signer, verifier } = opts;
    if (verifier.name !== signer.name) throw new RangeError('verifier and signer keys differ');
    const tiles = opts.tiles ?? new TileCache(store);
    const appender = await loadAppender(store, tiles);
    const seq = new Sequencer(opts, appender, tiles);
    // Before signing anything: apply the journal's batches after the last
    // committed one (a crash between 4a and 4, or an empty data dir).
    if (seq.replicator) await seq.catchUp();
    const size = seq.appender.size;
    const root = seq.appender.root();
    const signed = await seq.signedCheckpoints();
    // Every checkpoint the key signed must be a prefix of the committed tree.
    const sizes = [...new Set(signed.map((c) => c.size))].filter((n) => n > 0 && n <= size);
    const roots = new Map<number, Hash>();
    if (sizes.length) {
      const computed = await tiles.withHashes(size, (r) => sizes.map((n) => treeHash(n, r)), { size, root });
      sizes.forEach((n, i) => roots.set(n, computed[i]!));
    }
    let last: SignedCheckpoint | null = null;
    for (const c of signed) {
      if (c.size > size) throw new StoreBehindError(size, c.size, c.where);
      const want = c.size === 0 ? EMPTY_ROOT : roots.get(c.size)!;
      if (!equalBytes(want, c.root))
        throw new StorageCorruptError(
          `the log key signed root ${toHex(c.root)} at size ${c.size} (${c.where}), ` +
            `but the store's tree at that size has root ${toHex(want)}: refusing to serve or sign over it\n${c.note}`,
        );
      if (last === null || c.size > last.size) last = c;
    }
    seq.guard = new CheckpointSigner(signer.name, signer, last);
    if (last === null || last.size < size) await seq.publish(size, root);
    else seq.published = { size, root, checkpoint: last.note };
    return seq;
  }

  /**
   * The checkpoints this log key is known to have signed, verified: from
   * the signer state, the store, and the journal's feed. A note in the
   * signer state or the store that does not verify is corrupt storage; one
   * on the feed that does not is ignored (anyone on NATS may publish there).
   */
  private async signedCheckpoints(): Promise<SignedCheckpoint[]> {
    const out: SignedCheckpoint[] = [];
    const add = (note: string | null, where: string, trusted: boolean) => {
      if (note === null) return;
      try {
        const { checkpoint } = openCheckpoint(note, this.verifier);
        out.push({ size: checkpoint.size, root: checkpoint.root, note, where });
      } catch (e) {
        if (trusted)
          throw new StorageCorruptError(
            `${where} does not hold a checkpoint signed by this log's key: ${errorText(e)}`,
          );
      }
    };
    add(await this.signerState.read(), `signer state ${this.signerState.where}`, true);
    add(await this.store.readCheckpoint(), 'the checkpoint stored with the log', true);
    if (this.replicator)
      add(await this.replicator.latestCheckpoint(), "the journal's latest checkpoint", false);
    return out;
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
   * Starts ticking (adaptive group commit): while entries wait, a tick
   * starts when the previous one has ended and `batchPeriodMs` has passed
   * since it started, or at once when the pool holds a full batch. No timer
   * runs while the pool is empty; a submission schedules the next tick.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
    if (this.genesisEntry && this.appender.size === 0) {
      this.genesis = this.submit(this.genesisEntry);
      this.genesis.catch((e: unknown) =>
        this.log.error({ err: e }, 'the log could not write its first entry'),
      );
    }
  }

  /** The receipt of the entry a new log began with (see SequencerOptions.genesis), once `start` submitted it. */
  genesis: Promise<EntryReceipt> | null = null;

  /** Stops ticking, waits for the running tick; pending submissions are failed. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.ticking;
    this.failAll(new SequencerStoppedError('sequencer stopped'));
  }

  /**
   * A graceful stop: takes no new submissions (503 shutting_down), sequences
   * what is pending for at most `ms`, then stops (failing what is left).
   */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    const deadline = performance.now() + ms;
    while (this.pool.length > 0 && !this.stopped && !this.unavailable && performance.now() < deadline)
      await this.tick();
    await this.stop();
  }

  /** Runs one tick now (tests; also used when the pool fills). */
  async tick(): Promise<void> {
    this.kick();
    await this.ticking;
  }

  private schedule(): void {
    if (!this.running || this.timer || this.ticking || this.stopped || this.unavailable) return;
    if (this.pool.length === 0) return;
    const wait = Math.max(0, this.lastTickStart + this.batchPeriodMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, wait);
  }

  private kick(): void {
    if (this.ticking || this.stopped || this.unavailable) return;
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
   * PushbackError when the pool is full, StorageUnavailableError (or the
   * `canWrite` error) while storage cannot take writes, or
   * SequencerStoppedError.
   */
  submit(entry: Uint8Array, when?: 'now'): Promise<EntryReceipt>;
  submit(entry: Uint8Array, when: ReceiptWhen): Promise<EntryIndex>;
  async submit(entry: Uint8Array, when: ReceiptWhen = 'now'): Promise<EntryIndex> {
    this.refuseWrites(false);
    if (entry.length === 0) throw new UrnaError('empty', 'empty entry');
    if (entry.length > MAX_ENTRY_SIZE)
      throw new UrnaError('too_large', `entry of ${entry.length} bytes exceeds ${MAX_ENTRY_SIZE}`);
    const leafHash = computeLeafHash(entry);
    const key = toHex(leafHash);
    const receipt = when === 'now';
    const inFlight = this.pending.get(key);
    if (inFlight) return this.join(inFlight, receipt);
    const existing = await this.lookupLeaf(leafHash).catch((e: unknown) => this.storageFailed(e));
    if (existing !== null && existing !== undefined && existing < this.published.size) {
      this.m?.duplicates.inc();
      if (!receipt)
        return { index: existing, leafHash, checkpoint: this.published.checkpoint, duplicate: true };
      return this.receiptFor(existing, leafHash, true).catch((e: unknown) => this.storageFailed(e));
    }
    const prepared = await this.admission.prepare(entry);
    const again = this.pending.get(key); // another identical submission may have raced us
    if (again) return this.join(again, receipt);
    this.refuseWrites();
    if (this.pending.size >= this.maxPending) {
      if (!this.pushingBack)
        this.log.warn({ pending: this.pending.size }, 'pool is full: answering 503 until it drains');
      this.pushingBack = true;
      throw new PushbackError('pool is full, retry later');
    }
    let resolve!: (r: EntryIndex) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<EntryIndex>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const p: Pending = {
      entry,
      prepared,
      leafHash,
      key,
      enqueued: performance.now(),
      receipt,
      promise,
      resolve,
      reject,
    };
    this.pending.set(key, p);
    this.pool.push(p);
    if (this.pool.length >= this.maxBatch) this.kick();
    else this.schedule();
    return promise;
  }

  /** An identical submission waiting already: its answer, with a receipt if either asked for one. */
  private join(p: Pending, receipt: boolean): Promise<EntryIndex> {
    p.receipt ||= receipt;
    return p.promise;
  }

  /**
   * Throws why this sequencer takes no entries now, if it does not; the
   * free-space floor only with `floor` (an entry already in the log is
   * answered below it: that writes nothing).
   */
  private refuseWrites(floor = true): void {
    if (this.stopped) throw this.stopped;
    if (this.draining) throw new UrnaError('shutting_down', 'the sequencer is shutting down, retry');
    if (this.corruption)
      throw new SequencerStoppedError(
        `storage is corrupt, no entries are accepted: ${this.corruption.message}`,
      );
    if (this.unavailable) throw this.unavailableError();
    const refused = floor ? this.canWrite() : null;
    if (refused) throw refused;
  }

  private unavailableError(): StorageUnavailableError {
    const u = this.unavailable!;
    const seconds = Math.round((performance.now() - u.since) / 1000);
    return new StorageUnavailableError(`storage unavailable for ${seconds} s, retrying: ${u.error.message}`);
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
  async receiptFor(index: number, leafHash: Hash, duplicate = false): Promise<EntryReceipt> {
    const [result] = await receiptsAt(this.tiles, this.published, [{ index, leafHash }], { duplicate });
    return result!;
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
    const refused = this.canWrite();
    if (refused) {
      // e.g. free space below the floor: nothing is written; the waiting submitters retry.
      for (const p of this.pool.splice(0)) this.settle(p, refused);
      return;
    }
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
      const retry =
        e instanceof StorageUnavailableError ? e : new PushbackError(`batch failed, retry: ${errorText(e)}`);
      for (const p of batch) this.settle(p, retry);
      await this.recover();
      return;
    }
    // Steps 5–6: the batch is durable; a failure now stops the sequencer.
    try {
      this.tiles.put(tiles);
      this.fault('after-commit');
      const size = this.appender.size;
      const root = this.appender.root();
      const leavesOf = (of: typeof admitted) => of.map(({ p, index }) => ({ index, leafHash: p.leafHash }));
      const withReceipt = admitted.filter(({ p }) => p.receipt);
      // The receipts are computed while the signer state is being written
      // (CPU beside I/O); none is handed out before that write is durable.
      const { checkpoint, alongside } = await this.publish(size, root, (checkpoint) =>
        receiptsAt(this.tiles, { size, root, checkpoint }, leavesOf(withReceipt), { verifyAll: false }),
      );
      const receipts = new Map(withReceipt.map(({ p }, i) => [p, alongside[i]!]));
      // An identical submission asking for the receipt now may have joined one that did not meanwhile.
      const late = admitted.filter(({ p }) => p.receipt && !receipts.has(p));
      if (late.length > 0) {
        const more = await receiptsAt(this.tiles, { size, root, checkpoint }, leavesOf(late));
        late.forEach(({ p }, i) => receipts.set(p, more[i]!));
      }
      this.m?.entries.inc(admitted.length);
      this.m?.batches.inc();
      this.m?.batchSize.observe(admitted.length);
      for (const { p, index } of admitted) {
        this.m?.latency.observe((performance.now() - p.enqueued) / 1000);
        const answer = receipts.get(p) ?? { index, leafHash: p.leafHash, checkpoint, duplicate: false };
        this.settle(p, null, answer);
      }
      this.fault('after-answer');
    } catch (e) {
      if (!isTransientIoError(e)) return this.halt(e);
      // The batch is committed but not signed and recorded (e.g. the disk
      // filled before the signer state was written): its submitters
      // resubmit and get it as a duplicate once `recover` has signed it.
      for (const { p } of admitted) this.settle(p, e);
      await this.recover();
    }
    if (this.pushingBack && this.pending.size < this.maxPending / 2) {
      this.pushingBack = false;
      this.log.info({ pending: this.pending.size }, 'pool drained: pushback over');
    }
  }

  /**
   * Step 5, shared by every tick and by recovery: sign the committed head
   * (guarded) and store the checkpoint. Returns the signed note, and what
   * `alongside` made of it: work run while the signer state is written,
   * whose result must not leave the sequencer before `publish` resolves.
   */
  private async publish<T = undefined>(
    size: number,
    root: Hash,
    alongside?: (checkpoint: string) => Promise<T>,
  ): Promise<{ checkpoint: string; alongside: T }> {
    const last = this.guard.lastSigned;
    const proof =
      last && last.size > 0 && last.size < size
        ? await this.tiles.withHashes(size, (r) => proveConsistency(last.size, size, r))
        : [];
    const checkpoint = this.guard.sign(size, root, proof);
    this.fault('after-sign');
    // The signer's memory first, durably: from here on no store that lacks
    // this tree is served or signed over (see `open`). Then the store's copy
    // (what a standby or mirror over this store serves first).
    const [, made] = await Promise.all([
      this.signerState.write(checkpoint),
      alongside?.(checkpoint) as Promise<T>,
    ]);
    this.fault('after-checkpoint-write');
    await this.store.writeCheckpoint(checkpoint);
    this.published = { size, root, checkpoint };
    this.onCheckpoint?.(checkpoint);
    try {
      // At most once, to whoever listens now; a missed one is superseded by the next.
      this.replicator?.publishCheckpoint(checkpoint);
    } catch {
      // a closed connection: the checkpoint is stored and served; nothing to undo
    }
    return { checkpoint, alongside: made };
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
  private settle(p: Pending, error: unknown, result?: EntryIndex): void {
    if (this.pending.get(p.key) !== p) return;
    this.pending.delete(p.key);
    if (error) p.reject(error);
    else p.resolve(result!);
  }

  /**
   * After a failed batch: reloads the in-memory tree from the committed head
   * (a failed commit may still have landed: written but not synced when the
   * disk filled, then replayed when the store reopened) and signs it if it
   * is beyond the published one, so that no entry is in the store without
   * being in a signed tree. A transient storage fault on the way makes the
   * sequencer unavailable — no batches, submissions answered 503 with
   * Retry-After, pending ones failed so they retry — and this is retried
   * every `retryMs` until it works, or halts after `giveUpMs`. Anything
   * else halts at once.
   */
  private async recover(): Promise<void> {
    try {
      this.appender = await loadAppender(this.store, this.tiles);
      if (this.appender.size > this.published.size)
        await this.publish(this.appender.size, this.appender.root());
      if (this.unavailable) {
        const seconds = (performance.now() - this.unavailable.since) / 1000;
        this.log.info({ seconds: Math.round(seconds * 10) / 10 }, 'storage recovered: sequencing again');
        this.unavailable = null;
        this.schedule();
      }
    } catch (e) {
      if (!isTransientIoError(e) || this.stopped) return this.halt(e);
      if (this.unavailable === null) return this.storageUnavailable(e as Error);
      if (performance.now() - this.unavailable.since > this.giveUpMs)
        return this.halt(e, `storage unavailable for more than ${this.giveUpMs / 1000} s`);
      this.retryRecovery();
    }
  }

  /**
   * LogNode: a transient storage fault was met (by a batch, a submission's
   * lookup, or a read the API served): the sequencer becomes unavailable —
   * no batches, submissions 503 with Retry-After, waiting ones failed so
   * they retry — and tries to `recover` every `retryMs`.
   */
  storageUnavailable(error: Error): void {
    if (this.stopped || this.unavailable) return;
    this.unavailable = { error, since: performance.now() };
    this.log.warn({ err: error }, 'storage unavailable: refusing writes (503) and retrying');
    this.failAll(this.unavailableError(), false);
    this.retryRecovery();
  }

  private retryRecovery(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.recover();
    }, this.retryMs);
  }

  /** Rethrows `e`; a transient storage fault first makes the sequencer unavailable (see storageUnavailable). */
  private storageFailed(e: unknown): never {
    if (isTransientIoError(e)) this.storageUnavailable(e as Error);
    throw e;
  }

  private halt(e: unknown, why = 'sequencer stopped after a fatal error'): void {
    if (this.stopped) return;
    const reason =
      e instanceof InconsistentError || e instanceof StorageCorruptError ? e.message : errorText(e);
    this.stopped = new SequencerStoppedError(`${why}: ${reason}`);
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.log.error({ err: e }, why);
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

  /**
   * LogNode: corrupt storage was met serving a read (or by the scrub):
   * report not ok and accept no more entries (what the store says can no
   * longer be trusted to admit them); verified reads go on.
   */
  storageCorrupt(error: Error): void {
    if (this.corruption) return;
    this.corruption = error;
    this.log.error({ err: error }, 'storage is corrupt: refusing entries; restore the data dir');
    this.failAll(new SequencerStoppedError(`storage is corrupt: ${error.message}`), false);
  }

  /** LogNode: a sequencer with a journal is its log's leader (until it steps down). */
  status(): NodeStatus {
    const problem =
      this.stopped ??
      this.corruption ??
      (this.unavailable ? this.unavailableError() : null) ??
      this.canWrite();
    return {
      role: this.replicator ? 'leader' : 'single',
      ok: !problem,
      ...(problem ? { error: problem.message } : {}),
      ...(this.replicator ? { journal: { sequence: this.journalSeq, steppedDown: this.steppedDown } } : {}),
    };
  }

  /** Fails every pending submission: all of them, or (`inFlight` false) those not in the running batch. */
  private failAll(e: UrnaError, inFlight = true): void {
    const waiting = inFlight ? [...this.pending.values()] : this.pool;
    for (const p of [...waiting]) this.settle(p, e);
    this.pool = [];
  }
}
