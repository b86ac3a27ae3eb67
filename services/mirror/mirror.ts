/**
 * A mirror of a replicated log: follows the journal, applies each batch the
 * way the sequencer did (services/node/materialize.ts: same rules, same
 * tiles, same projections, the batch's root checked), and serves the log's
 * read API at the latest signed checkpoint it can prove.
 *
 * What it trusts: nothing but the log's verifier key. A checkpoint (from
 * the checkpoint feed) is served only once (1) its signature verifies, (2)
 * the mirror has applied the journal up to its size and the root recomputed
 * from the mirror's own stored tiles equals the signed root, and (3) it is
 * consistent with the checkpoint served before it (a consistency proof from
 * the stored tiles, verified). So the mirror never serves a root it cannot
 * prove from what it stores; a checkpoint that disagrees with the journal,
 * two different signed roots for one size (a split view), or stored tiles
 * that no longer hash to a proven root stop it (status not ok, /healthz
 * 503) with the evidence in its error.
 *
 * A standby sequencer is a mirror with role `standby` (services/replica):
 * when it wins the lease it stops following and opens a Sequencer over the
 * same store.
 */
import { equalBytes, toHex } from '../../ledger/bytes.js';
import { openCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError } from '../../ledger/errors.js';
import { EMPTY_ROOT, type Hash } from '../../ledger/hash.js';
import { proveConsistency, treeHash, verifyConsistency } from '../../ledger/merkle.js';
import type { NoteVerifier } from '../../ledger/note.js';
import type { TreeAppender } from '../../ledger/appender.js';
import { NotLeaderError, type LogNode, type NodeStatus } from '../node/log-node.js';
import type { JournalRecord } from '../journal/journal.js';
import type { Registry } from '../metrics.js';
import type { Admission } from '../node/admission.js';
import { applyJournalBatch, committedJournalSeq, loadAppender, withLookahead } from '../node/materialize.js';
import { receiptsAt, type PublishedHead, type EntryReceipt } from '../node/receipts.js';
import type { TileCache } from '../node/tile-cache.js';
import type { LogStore } from '../storage/store.js';
import { errorText, silentLogger, type Logger } from '../log.js';
import { isTransientIoError } from '../storage/errors.js';

/** Reads the journal from `fromSeq` on, live, until `signal` aborts (Journal.follow). */
export type FollowJournal = (
  fromSeq: number,
  opts: { firstIndex: number; signal: AbortSignal },
) => AsyncIterable<JournalRecord>;

/** Where signed checkpoints come from (CheckpointFeed). */
export interface CheckpointSource {
  latest(): Promise<string | null>;
  subscribe(listener: (note: string) => void): () => void;
}

export interface MirrorOptions {
  store: LogStore;
  tiles: TileCache;
  admission: Admission;
  /** The log's verifier key; its name is the origin. */
  verifier: NoteVerifier;
  follow: FollowJournal;
  checkpoints: CheckpointSource;
  /** `mirror` (default) or `standby` (a sequencer waiting for the lease). */
  role?: 'mirror' | 'standby';
  /** The leader's submission URL as last known, for NotLeaderError. */
  leader?: () => string | null;
  metrics?: Registry;
  /** Faults and recoveries. */
  log?: Logger;
  /** After a transient storage fault: retry every `retryMs` (default 1000). */
  retryMs?: number;
}

export class Mirror implements LogNode {
  readonly origin: string;
  readonly tiles: TileCache;
  private readonly store: LogStore;
  private readonly admission: Admission;
  private readonly verifier: NoteVerifier;
  private readonly role: 'mirror' | 'standby';
  private readonly leader: () => string | null;
  private appender: TreeAppender;
  private journalSeq: number;
  private published: PublishedHead;
  /** The largest signed checkpoint beyond the applied tree, waiting for its batches. */
  private ahead: { size: number; note: string; seenAt: number } | null = null;
  /** Serializes batch application and checkpoint acceptance. */
  private queue: Promise<void> = Promise.resolve();
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private failure: Error | null = null;
  /** Corrupt storage met while serving a read (see storageCorrupt). */
  private corruption: Error | null = null;
  /** A transient storage fault being waited out (applying stops, reads go on), since when. */
  private unavailable: { error: Error; since: number } | null = null;
  private readonly log: Logger;
  private readonly m;

  private constructor(
    private readonly opts: MirrorOptions,
    appender: TreeAppender,
    journalSeq: number,
  ) {
    this.origin = opts.verifier.name;
    this.tiles = opts.tiles;
    this.store = opts.store;
    this.admission = opts.admission;
    this.verifier = opts.verifier;
    this.role = opts.role ?? 'mirror';
    this.leader = opts.leader ?? (() => null);
    this.appender = appender;
    this.journalSeq = journalSeq;
    this.published = { size: 0, root: EMPTY_ROOT, checkpoint: '' };
    this.log = opts.log ?? silentLogger;
    const r = opts.metrics;
    this.m = r
      ? {
          applied: r.counter('urna_mirror_batches_applied_total', 'Journal batches applied by this node.'),
          delay: r.histogram(
            'urna_mirror_apply_delay_seconds',
            'From a batch stored in the journal to applied here (clocks of the stream leader and this node).',
            [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
          ),
          accepted: r.counter('urna_mirror_checkpoints_total', 'Signed checkpoints proven and served.'),
          refused: r.counter(
            'urna_mirror_checkpoints_refused_total',
            'Checkpoints refused (bad signature, other origin, older than served).',
          ),
          size: r.gauge(
            'urna_tree_size',
            'Entries in the log (served checkpoint).',
            () => this.published.size,
          ),
          applied_size: r.gauge(
            'urna_mirror_applied_size',
            'Entries applied from the journal (may run ahead of the served checkpoint).',
            () => this.appender.size,
          ),
          journalSeq: r.gauge(
            'urna_journal_sequence',
            'Journal sequence of the last applied batch.',
            () => this.journalSeq,
          ),
          lag: r.gauge(
            'urna_mirror_lag_seconds',
            'Seconds the served tree is behind the newest signed checkpoint seen (0 when caught up).',
            () => this.lagSeconds(),
          ),
          behind: r.gauge(
            'urna_mirror_behind_entries',
            'Entries between the served checkpoint and the newest signed checkpoint seen.',
            () => (this.ahead ? this.ahead.size - this.published.size : 0),
          ),
        }
      : null;
  }

  /** How long a signed checkpoint newer than the served one has been waiting (0 when caught up). */
  private lagSeconds(): number {
    return this.ahead === null ? 0 : (performance.now() - this.ahead.seenAt) / 1000;
  }

  /**
   * Opens the mirror over `store`: loads and checks the committed tree
   * (StorageCorruptError if the stored tiles do not hash to the stored
   * head), and re-proves the stored checkpoint, if any, from the stored
   * tiles before serving it.
   */
  static async open(opts: MirrorOptions): Promise<Mirror> {
    const appender = await loadAppender(opts.store, opts.tiles);
    const seq = await committedJournalSeq(opts.store, appender.size);
    const mirror = new Mirror(opts, appender, seq);
    const stored = await opts.store.readCheckpoint();
    if (stored !== null) await mirror.accept(stored);
    return mirror;
  }

  get head(): PublishedHead {
    return this.published;
  }

  /** The journal sequence of the last applied batch. */
  get sequence(): number {
    return this.journalSeq;
  }

  /** Starts following the journal and the checkpoint feed. */
  start(): void {
    if (this.running || this.failure) return;
    const abort = new AbortController();
    this.abort = abort;
    this.unsubscribe = this.opts.checkpoints.subscribe((note) => this.offer(note));
    this.running = this.follow(abort.signal);
    this.opts.checkpoints.latest().then(
      (note) => {
        if (note !== null) void this.offer(note);
      },
      () => {}, // the next published checkpoint will do
    );
  }

  /** Stops following; resolves once no batch is being applied. The store stays consistent. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.abort?.abort();
    await this.running;
    await this.queue;
    this.running = null;
  }

  async submit(): Promise<EntryReceipt> {
    throw new NotLeaderError(this.role, this.leader());
  }

  async receiptFor(index: number, leafHash: Hash): Promise<EntryReceipt> {
    const [r] = await receiptsAt(this.tiles, this.published, [{ index, leafHash }]);
    return r!;
  }

  /** LogNode: a read met corrupt storage; report not ok (keep following: what is new may still be good). */
  storageCorrupt(error: Error): void {
    if (this.corruption) return;
    this.corruption = error;
    this.log.error(
      { err: error },
      'storage is corrupt: reporting unhealthy; restore or rebuild the data dir',
    );
  }

  /**
   * LogNode: a read met a transient storage fault: report not ok, and probe
   * the store every `retryMs` until it answers (the follow loop, if it is
   * applying, recovers by itself the same way).
   */
  storageUnavailable(error: Error): void {
    if (this.unavailable || this.failure) return;
    this.unavailable = { error, since: performance.now() };
    this.log.warn({ err: error }, 'storage unavailable: retrying');
    const probe = () =>
      setTimeout(() => {
        void this.serial(async () => {
          await this.store.readHead();
          if (this.unavailable) this.log.info('storage recovered');
          this.unavailable = null;
        }).then(() => {
          if (this.unavailable && !this.failure) probe();
        });
      }, this.opts.retryMs ?? 1000).unref();
    probe();
  }

  status(): NodeStatus {
    const leader = this.leader();
    const problem =
      this.failure ??
      this.corruption ??
      (this.unavailable
        ? new Error(`storage unavailable, retrying: ${this.unavailable.error.message}`)
        : null);
    return {
      role: this.role,
      ok: problem === null,
      ...(problem ? { error: problem.message } : {}),
      ...(leader ? { leader } : {}),
      journal: {
        sequence: this.journalSeq,
        behind: this.ahead ? this.ahead.size - this.published.size : 0,
        lagSeconds: Math.round(this.lagSeconds() * 1000) / 1000,
      },
    };
  }

  /** Offers a signed checkpoint (from the feed, or a test); served once proven. */
  offer(note: string): Promise<void> {
    return this.serial(() => this.accept(note));
  }

  /**
   * Runs `f` after what is queued. A transient storage fault makes the
   * mirror unavailable (the follow loop then waits and resumes); anything
   * else stops it.
   */
  private serial(f: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => (this.failure ? undefined : f()));
    this.queue = next.catch((e: unknown) => {
      if (!isTransientIoError(e)) return this.fail(e);
      if (this.unavailable === null)
        this.log.warn({ err: e }, 'storage unavailable: applying paused, retrying');
      this.unavailable ??= { error: e as Error, since: performance.now() };
    });
    return this.queue;
  }

  /**
   * Follows the journal from the batch after the last committed one. After
   * a transient storage fault: waits, reloads the tree from the store (the
   * failed batch may or may not have been committed) and resumes after its
   * last committed batch.
   */
  private async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.failure) {
      try {
        const from = this.journalSeq + 1;
        const records = withLookahead(this.opts.follow(from, { firstIndex: this.appender.size, signal }));
        for await (const { value: record, more } of records) {
          if (signal.aborted || this.failure || this.unavailable) break;
          await this.serial(() => this.apply(record, !more));
          if (this.failure || this.unavailable) break;
        }
        if (!this.unavailable) return;
      } catch (e) {
        if (signal.aborted) return;
        if (!isTransientIoError(e)) return this.fail(e);
        this.unavailable ??= { error: e as Error, since: performance.now() };
      }
      await sleep(this.opts.retryMs ?? 1000, signal);
      await this.serial(async () => {
        this.appender = await loadAppender(this.store, this.tiles);
        this.journalSeq = await committedJournalSeq(this.store, this.appender.size);
        if (this.unavailable) {
          const seconds = Math.round((performance.now() - this.unavailable.since) / 100) / 10;
          this.log.info({ seconds }, 'storage recovered: applying the journal again');
        }
        this.unavailable = null;
      });
    }
  }

  /** Applies a batch; `durable` false while more batches are at hand (catching up: one fsync per run). */
  private async apply(record: JournalRecord, durable: boolean): Promise<void> {
    await applyJournalBatch(
      { store: this.store, tiles: this.tiles, admission: this.admission, appender: this.appender },
      record.seq,
      record.batch,
      { durable },
    );
    this.journalSeq = record.seq;
    this.m?.applied.inc();
    this.m?.delay.observe(Math.max(0, Date.now() - record.storedAt) / 1000);
    if (this.ahead && this.ahead.size <= this.appender.size) await this.accept(this.ahead.note);
  }

  /**
   * Serves `note` if it proves out (see the file comment), keeps it for
   * later if it is beyond the applied tree, ignores it if it is older than
   * the served one or not a checkpoint of this log. Throws (stopping the
   * mirror) on evidence of a fork or of corrupt storage.
   */
  private async accept(note: string): Promise<void> {
    let size: number;
    let root: Hash;
    try {
      const { checkpoint } = openCheckpoint(note, this.verifier);
      ({ size, root } = checkpoint);
    } catch {
      this.m?.refused.inc();
      return;
    }
    const served = this.published;
    if (
      size < served.size ||
      (size === served.size && served.checkpoint !== '' && note === served.checkpoint)
    )
      return;
    if (size === served.size && served.checkpoint !== '') {
      if (equalBytes(root, served.root)) return; // the same tree head, signed again
      throw new InconsistentError(
        `split view: two checkpoints of size ${size} with different roots, signed by the log:\n` +
          `${served.checkpoint}\n${note}`,
      );
    }
    const applied = this.appender.size;
    if (size > applied) {
      // Keep the largest; lag counts from the first checkpoint not yet served.
      if (!this.ahead || size > this.ahead.size)
        this.ahead = { size, note, seenAt: this.ahead?.seenAt ?? performance.now() };
      return;
    }
    if (size === applied && !equalBytes(root, this.appender.root()))
      throw new InconsistentError(
        `the signed checkpoint at size ${size} has root ${toHex(root)}, ` +
          `the journal's entries give ${toHex(this.appender.root())}: the log signed a tree the journal does not hold\n${note}`,
      );
    const from = served.checkpoint === '' ? 0 : served.size;
    // Computed from tiles authenticated against the applied tree, whose root
    // matched the journal batch by batch: a corrupt tile throws
    // StorageCorruptError here, so a mismatch below is the checkpoint's.
    const proven = await this.tiles.withHashes(
      applied,
      (r) => ({
        root: treeHash(size, r),
        proof: from > 0 && from < size ? proveConsistency(from, size, r) : [],
      }),
      { size: applied, root: this.appender.root() },
    );
    if (!equalBytes(proven.root, root))
      throw new InconsistentError(
        `the signed checkpoint at size ${size} has root ${toHex(root)}, the journal's entries give ` +
          `${toHex(proven.root)}: the log signed a tree the journal does not hold\n${note}`,
      );
    if (from > 0 && from < size) {
      try {
        verifyConsistency(from, size, served.root, root, proven.proof);
      } catch {
        throw new InconsistentError(
          `checkpoint at size ${size} is not consistent with the served one at ${from}:\n${served.checkpoint}\n${note}`,
        );
      }
    }
    if (note !== (await this.store.readCheckpoint())) await this.store.writeCheckpoint(note);
    this.published = { size, root, checkpoint: note };
    this.m?.accepted.inc();
    if (this.ahead && this.ahead.size <= size) this.ahead = null;
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(errorText(e));
    this.log.error({ err: this.failure }, `${this.role} stopped`);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.abort?.abort();
  }

  /** The error that stopped the mirror, if any. */
  get fatal(): Error | null {
    return this.failure;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
