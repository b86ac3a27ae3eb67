/**
 * The sequencer: one small loop that turns a pool of submitted entries into
 * durable, signed tree heads and answers each submitter with its receipt.
 *
 * One tick (crash-safety reasoning beside each step):
 *  1. take up to `maxBatch` entries from the pool;
 *  2. admit them in order through the admission rules (a rejected entry gets
 *     its error; later entries see the earlier admitted ones);
 *  3. append the admitted entries to the in-memory tree (O(log n) state);
 *  4. commit tiles, bundles, leaf index, projections and tree head in one
 *     atomic synced write — a crash before this point loses only entries
 *     nobody has a receipt for; after it, the batch is in the log;
 *  5. sign the checkpoint (the guard refuses an inconsistent one) and store
 *     it — a crash here is repaired at start-up by re-signing the committed
 *     head, which yields the same bytes (deterministic Ed25519);
 *  6. answer every submitter with a tlog-proof receipt at that checkpoint.
 *
 * A failure in steps 1–4 fails that batch's submitters (503) and reloads the
 * in-memory tree from storage. A failure after the commit is fatal for the
 * sequencer (the store and memory may disagree): it stops and refuses work
 * until restarted, which runs recovery (`open`) through the same steps 5–6.
 */
import { equalBytes, toHex } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError, UrnaError } from '../../ledger/errors.js';
import { HASH_SIZE, leafHash as computeLeafHash, type Hash } from '../../ledger/hash.js';
import { proveConsistency, proveInclusion, treeHash, verifyInclusion } from '../../ledger/merkle.js';
import { openNote, type NoteSigner, type NoteVerifier } from '../../ledger/note.js';
import { formatReceipt } from '../../ledger/receipt.js';
import { TreeAppender } from '../../ledger/appender.js';
import type { Tile } from '../../ledger/tile.js';
import {
  entryBundlesForSize,
  MAX_ENTRY_SIZE,
  parseEntryBundle,
  tilesForSize,
  TILE_WIDTH,
} from '../../ledger/tile.js';
import type { Registry } from '../metrics.js';
import type { LogStore } from '../storage/store.js';
import { CheckpointSigner } from './signer.js';
import { StorageCorruptError, TileCache } from './tile-reader.js';

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

/** Returned by BatchAdmission.admit: not yet decidable; the entry waits for the next batch. */
export const DEFER = Symbol('defer');

/** Admission of the entries of one batch, in sequence order (the election rules plug in here). */
export interface BatchAdmission {
  /**
   * Admits `entry` at `index`, or returns why not, or DEFER. Sees the
   * entries admitted before it in this batch. Synchronous: what it reads was
   * fetched by `Admission.begin`.
   */
  admit(entry: Uint8Array, prepared: unknown, index: number): UrnaError | null | typeof DEFER;
  /** Key/values to commit atomically with the batch (projections). */
  extra(): Array<{ key: string; value: Uint8Array }>;
}

/**
 * The hook where the log's rules plug in. `prepare` runs once per
 * submission before it joins the pool (decoding and signature checks: the
 * expensive, state-free part, off the event loop); `begin` runs once per
 * batch and reads, in one batched read, the state the batch's entries need.
 */
export interface Admission {
  /** Checks an entry by itself; throws its rejection. Its result is handed to `admit`. */
  prepare(entry: Uint8Array): Promise<unknown>;
  /** Starts a batch over the tree of `committedSize` entries. */
  begin(
    batch: ReadonlyArray<{ entry: Uint8Array; prepared: unknown }>,
    committedSize: number,
  ): Promise<BatchAdmission>;
}

/** Admits any non-empty entry (a log of opaque entries, without election rules). */
export const acceptAll: Admission = {
  prepare: async () => null,
  begin: async () => ({ admit: () => null, extra: () => [] }),
};

/** Points between the steps of a tick where a test can inject a crash. */
export type FaultPoint =
  | 'batch-start'
  | 'after-admit'
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
}

export interface SubmitResult {
  index: number;
  leafHash: Hash;
  /** C2SP tlog-proof receipt at `checkpoint`. */
  receipt: string;
  checkpoint: string;
  /** True when the entry was already in the log (idempotent resubmission). */
  duplicate: boolean;
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

/** The committed, signed state that the read API serves. */
export interface PublishedHead {
  size: number;
  root: Hash;
  checkpoint: string;
}

export class Sequencer {
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
    if (checkpoint === null || last!.size < appender.size) {
      checkpoint = await seq.publish(appender.size, appender.root());
    } else {
      seq.published = { size: last!.size, root: last!.root, checkpoint };
      // The stored checkpoint must be for the committed root, not just its size.
      if (!equalBytes(last!.root, appender.root()))
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

  /**
   * Receipts for several entries at the latest signed checkpoint, from one
   * pass over the tiles. Inclusion proofs are verified against the signed
   * root before they are handed out, so corrupt storage yields
   * StorageCorruptError, never a wrong receipt. A just-sequenced batch
   * (`verifyAll` false) checks its first and last proofs only: its proofs
   * come from the tiles it just wrote and from partial tiles checked against
   * the head at start-up, and a verification costs ~log2(n) hashes per entry
   * on the write path's hot loop.
   */
  private async receiptsFor(
    leaves: ReadonlyArray<{ index: number; leafHash: Hash }>,
    duplicate = false,
    verifyAll = true,
  ): Promise<SubmitResult[]> {
    const { size, root, checkpoint } = this.published;
    const proofs = await this.tiles.withHashes(size, (r) =>
      leaves.map(({ index }) => proveInclusion(index, size, r)),
    );
    return leaves.map(({ index, leafHash }, i) => {
      const proof = proofs[i]!;
      try {
        if (verifyAll || i === 0 || i === leaves.length - 1)
          verifyInclusion(leafHash, index, size, root, proof);
      } catch {
        throw new StorageCorruptError(
          `inclusion proof for ${index} at ${size} does not verify: stored tiles are corrupt`,
        );
      }
      return { index, leafHash, receipt: formatReceipt({ index, proof, checkpoint }), checkpoint, duplicate };
    });
  }

  private async runTick(): Promise<void> {
    if (this.pool.length === 0) return;
    const batch = this.pool.splice(0, this.maxBatch);
    const admitted: Array<{ p: Pending; index: number }> = [];
    const deferred: Pending[] = [];
    let tiles: Array<{ tile: Tile; data: Uint8Array }> = [];
    // Steps 1–4: any failure here leaves the log as it was.
    try {
      this.fault('batch-start');
      const admission = await this.admission.begin(batch, this.appender.size);
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
      this.fault('before-commit');
      const t0 = performance.now();
      await this.store.commit({ head, tiles, leaves, extra: admission.extra() });
      this.m?.commitSeconds.observe((performance.now() - t0) / 1000);
    } catch (e) {
      this.m?.batchFailures.inc();
      this.pool = this.pool.filter((p) => !deferred.includes(p));
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
    return checkpoint;
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

  private halt(e: unknown): void {
    const reason =
      e instanceof InconsistentError || e instanceof StorageCorruptError ? e.message : errorText(e);
    this.stopped = new SequencerStoppedError(`sequencer stopped after a fatal error: ${reason}`);
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.failAll(this.stopped);
  }

  /** The fatal error that stopped the sequencer, if any. */
  get fatal(): UrnaError | null {
    return this.stopped;
  }

  private failAll(e: UrnaError): void {
    for (const p of [...this.pending.values()]) this.settle(p, e);
    this.pool = [];
  }
}

/**
 * Rebuilds the in-memory tree from the committed head and the partial tiles,
 * checking them: the root recomputed from the stored tiles must equal the
 * head's root (this covers every hash of every partial tile, since the edge
 * subtrees span them), and the partial bundle's entries must hash to the
 * partial level-0 tile.
 */
async function loadAppender(store: LogStore, cache: TileCache): Promise<TreeAppender> {
  const head = await store.readHead();
  if (!head) return new TreeAppender();
  const { size } = head;
  const partial = await readPartialTiles(cache, size);
  let appender: TreeAppender;
  try {
    appender = new TreeAppender({ size, edge: head.edge, tiles: partial });
  } catch (e) {
    throw new StorageCorruptError(`stored tree head and partial tiles disagree: ${errorText(e)}`);
  }
  const fromTiles = await cache.withHashes(size, (r) => treeHash(size, r));
  if (!equalBytes(appender.root(), head.root) || !equalBytes(fromTiles, head.root)) {
    throw new StorageCorruptError('stored tiles do not hash to the committed tree head');
  }
  const bundle = partial.get(-1);
  if (bundle) {
    const level0 = partial.get(0)!;
    parseEntryBundle(bundle, size % TILE_WIDTH).forEach((entry, i) => {
      if (!equalBytes(computeLeafHash(entry), level0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
        throw new StorageCorruptError(
          `stored entry ${size - (size % TILE_WIDTH) + i} does not match its leaf hash`,
        );
      }
    });
  }
  return appender;
}

/** Reads the partial (rightmost) tile of every level and the partial entry bundle at `size`. */
async function readPartialTiles(cache: TileCache, size: number): Promise<Map<number, Uint8Array>> {
  const partial = [...entryBundlesForSize(size), ...tilesForSize(size)].filter((t) => t.width < TILE_WIDTH);
  const data = await cache.fetch(partial);
  return new Map(partial.map((t, i) => [t.level, data[i]!]));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
