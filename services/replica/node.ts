/**
 * One sequencer of a replicated log (`urna serve --nats`): a standby until
 * it wins the lease, then the leader until it loses it, and so on.
 *
 *   standby ── lease acquired ──▶ leader ── lease lost / journal conflict ──▶ standby
 *
 * As a standby it is a Mirror (services/mirror): it follows the journal into
 * its store and serves the read API at the leader's checkpoints, and refuses
 * submissions with NotLeaderError naming the leader (from the lease). It
 * tries to take the lease every `leasePollMs`. Once it holds it, it stops
 * following and opens a Sequencer over the same store, which catches up to
 * the journal's end before it signs or sequences anything; it renews the
 * lease while it leads.
 *
 * Stepping down is immediate: a lost lease (a renewal's compare-and-swap
 * failed, or the local deadline passed) stops the sequencer before its next
 * journal append, and every append checks the lease first; a journal
 * conflict or an unanswered append stops it too. Either way it releases the
 * lease if it still holds it and becomes a standby again. The lease only
 * makes a second leader rare; the journal's expected-last-sequence makes a
 * fork impossible (journal.ts, lease.ts).
 */
import type { Hash } from '../../ledger/hash.js';
import type { NoteSigner, NoteVerifier } from '../../ledger/note.js';
import type { LogNode, NodeStatus } from '../node/log-node.js';
import type { CheckpointFeed } from '../journal/checkpoints.js';
import { encodedBatchBytes, JournalUnavailableError, type Journal } from '../journal/journal.js';
import type { Lease } from '../journal/lease.js';
import { publishCheckpoint } from '../journal/subjects.js';
import type { Registry } from '../metrics.js';
import { Mirror } from '../mirror/mirror.js';
import type { Admission } from '../node/admission.js';
import { errorText, silentLogger, type Logger } from '../log.js';
import { InconsistentError } from '../../ledger/errors.js';
import { StorageCorruptError } from '../storage/errors.js';
import type { EntryIndex, EntryReceipt, PublishedHead, ReceiptWhen } from '../node/receipts.js';
import type { Replicator } from '../node/replicator.js';
import { Sequencer, type SequencerOptions } from '../sequencer/sequencer.js';
import type { TileCache } from '../node/tile-cache.js';
import type { LogStore } from '../storage/store.js';
import type { SignerState } from '../storage/signer-state.js';
import type { NatsConnection } from 'nats';

export interface ReplicatedNodeOptions {
  nc: NatsConnection;
  journal: Journal;
  feed: CheckpointFeed;
  lease: Lease;
  store: LogStore;
  tiles: TileCache;
  admission: Admission;
  signer: NoteSigner;
  verifier: NoteVerifier;
  /** The signer's memory (the last checkpoint this node signed), kept outside the store. */
  signerState: SignerState;
  metrics: Registry;
  /** Batch settings, storage limits and fault injection for the sequencer while leading. */
  sequencer: Pick<
    SequencerOptions,
    'batchPeriodMs' | 'maxBatch' | 'maxPending' | 'fault' | 'canWrite' | 'storageRetry' | 'genesis'
  >;
  /** How often a standby tries to take the lease (default 200 ms). */
  leasePollMs?: number;
  /** Role changes and faults. */
  log?: Logger;
}

export class ReplicatedNode implements LogNode {
  readonly origin: string;
  readonly tiles: TileCache;
  private current: Mirror | Sequencer;
  private leaderUrl: string | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private settle: () => void = () => {};
  /** Corrupt storage met in any role (kept across role changes): the node is not ok and does not lead. */
  private corruption: Error | null = null;
  /** Why this node cannot lead at all (its store contradicts what the log key signed). */
  private unfit: Error | null = null;
  private readonly logger: Logger;
  /** Resolves once the first contention settled: this node leads, or another one holds the lease. */
  readonly settled: Promise<void> = new Promise((resolve) => (this.settle = resolve));
  private readonly m;

  private constructor(
    private readonly opts: ReplicatedNodeOptions,
    standby: Mirror,
  ) {
    this.origin = opts.signer.name;
    this.tiles = opts.tiles;
    this.current = standby;
    this.logger = opts.log ?? silentLogger;
    const r = opts.metrics;
    this.m = {
      leader: r.gauge('urna_sequencer_leader', '1 while this sequencer holds the lease and sequences.', () =>
        this.leading ? 1 : 0,
      ),
      takeovers: r.counter('urna_sequencer_takeovers_total', 'Times this sequencer became the leader.'),
      stepdowns: r.counter('urna_sequencer_stepdowns_total', 'Times this sequencer stopped leading.'),
    };
  }

  /**
   * Opens the node as a standby over `store`, following the journal; it
   * contends for the lease once `contend` is called (after the node
   * listens, so the lease can carry its URL).
   */
  static async open(opts: ReplicatedNodeOptions): Promise<ReplicatedNode> {
    let self: ReplicatedNode | null = null;
    const standby = await ReplicatedNode.openStandby(opts, () => self?.leaderUrl ?? null);
    self = new ReplicatedNode(opts, standby);
    standby.start();
    return self;
  }

  /** Starts contending for the lease (once). */
  contend(): void {
    if (this.loop || this.closed) return;
    this.loop = this.run(this.current as Mirror);
  }

  private static openStandby(opts: ReplicatedNodeOptions, leader: () => string | null): Promise<Mirror> {
    return Mirror.open({
      store: opts.store,
      tiles: opts.tiles,
      admission: opts.admission,
      verifier: opts.verifier,
      follow: (fromSeq, o) => opts.journal.follow(fromSeq, { ...o, pollMs: 250 }),
      checkpoints: opts.feed,
      role: 'standby',
      leader,
      metrics: opts.metrics,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  get head(): PublishedHead {
    return this.current.head;
  }

  submit(entry: Uint8Array, when?: 'now'): Promise<EntryReceipt>;
  submit(entry: Uint8Array, when: ReceiptWhen): Promise<EntryIndex>;
  submit(entry: Uint8Array, when: ReceiptWhen = 'now'): Promise<EntryIndex> {
    return this.current.submit(entry, when);
  }

  receiptFor(index: number, leafHash: Hash): Promise<EntryReceipt> {
    return this.current.receiptFor(index, leafHash);
  }

  status(): NodeStatus {
    const status = this.current.status();
    const problem = this.unfit ?? this.corruption;
    return problem && status.ok ? { ...status, ok: false, error: problem.message } : status;
  }

  storageUnavailable(error: Error): void {
    this.current.storageUnavailable(error);
  }

  /** LogNode: corrupt storage: not ok from now on, in every role; a leader steps down and does not lead again. */
  storageCorrupt(error: Error): void {
    this.corruption ??= error;
    this.current.storageCorrupt(error);
    if (this.current instanceof Sequencer) this.current.stepDown(`storage is corrupt: ${error.message}`);
  }

  /** Whether this node leads now. */
  get leading(): boolean {
    return this.current instanceof Sequencer && this.current.fatal === null;
  }

  /** A graceful stop's first step: a leader sequences what is pending (at most `ms`); then `close`. */
  async drain(ms: number): Promise<void> {
    if (this.current instanceof Sequencer) await this.current.drain(ms);
  }

  /** Stops: a leader stops sequencing and releases the lease; a standby stops following. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
  }

  private log(message: string, fields: Record<string, unknown> = {}): void {
    this.logger.info({ origin: this.origin, ...fields }, message);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(standby: Mirror): Promise<void> {
    const { lease } = this.opts;
    for (;;) {
      // Standby: follow the journal and contend for the lease.
      while (!this.closed) {
        // A standby that cannot prove its own storage must not take over with it.
        if (standby.status().ok && !this.corruption && !this.unfit) {
          try {
            if (await lease.tryAcquire()) break;
            this.leaderUrl = (await lease.holder())?.url ?? null;
            this.settle();
          } catch {
            // NATS unreachable for now: stay a standby
          }
        }
        await this.sleep(this.opts.leasePollMs ?? 200);
      }
      await standby.stop();
      if (this.closed) {
        await lease.release().catch(() => {});
        this.settle();
        return;
      }
      // Leader: catch up to the journal's end, sign, sequence until the lease or the journal says stop.
      this.log('took the lease; catching up', { journalSequence: standby.sequence });
      const stopped = await this.lead();
      this.m.stepdowns.inc();
      this.logger.warn({ origin: this.origin, reason: stopped }, 'stepped down');
      await lease.release().catch(() => {});
      this.leaderUrl = null;
      if (this.closed) return;
      try {
        standby = await ReplicatedNode.openStandby(this.opts, () => this.leaderUrl);
      } catch (e) {
        this.logger.error({ origin: this.origin, err: e }, 'cannot reopen as a standby');
        this.settle();
        return; // the current (stopped) sequencer keeps answering 503 with its error
      }
      this.current = standby;
      standby.start();
    }
  }

  /** Leads until the lease is lost, the sequencer stops, or the node closes; returns why it stopped. */
  private async lead(): Promise<string> {
    const { lease, journal, nc } = this.opts;
    lease.startRenewing();
    let why: string | null = null;
    let stop = () => {};
    const stopping = new Promise<void>((resolve) => (stop = resolve));
    const end = (reason: string) => {
      why ??= reason;
      stop();
    };
    const unlisten = lease.onLost((reason) => end(`lease ${reason}`));
    // The lease may have lapsed while the standby stopped (a slow journal read
    // during a NATS outage): then nobody would tell us, so look now.
    if (!lease.held) end('lease lost before leading');
    const previousWake = this.wake;
    this.wake = () => end('closing');
    const replicator: Replicator = {
      maxBatchBytes: journal.maxBatchBytes,
      bytesOf: encodedBatchBytes,
      append: (batch, expectedLastSeq) => {
        // Checked before every append: a leader whose lease lapsed appends nothing.
        if (!lease.held) return Promise.reject(new JournalUnavailableError('the lease is no longer held'));
        return journal.append(batch, expectedLastSeq);
      },
      readAfter: (afterSeq, firstIndex) =>
        journal.readUntilEnd(afterSeq + 1, afterSeq === 0 ? {} : { firstIndex }),
      publishCheckpoint: (note) => publishCheckpoint(nc, journal.origin, note),
      latestCheckpoint: () => this.opts.feed.latest(),
    };
    let sequencer: Sequencer;
    try {
      sequencer = await Sequencer.open({
        ...this.opts.sequencer,
        store: this.opts.store,
        tiles: this.opts.tiles,
        admission: this.opts.admission,
        signer: this.opts.signer,
        verifier: this.opts.verifier,
        signerState: this.opts.signerState,
        metrics: this.opts.metrics,
        replicator,
        onStop: (e) => end(e.message),
        ...(this.opts.log ? { log: this.opts.log } : {}),
      });
    } catch (e) {
      // A store behind, or contradicting, what the log key signed, even after
      // catching up with the journal: the journal lost batches this key
      // signed (or the store is corrupt). Leading would fork the log.
      if (e instanceof StorageCorruptError || e instanceof InconsistentError) {
        this.unfit = e;
        this.logger.error(
          { origin: this.origin, err: e },
          'cannot lead: the store contradicts what the log key signed',
        );
      }
      unlisten();
      this.wake = previousWake;
      lease.stopRenewing();
      this.settle();
      return `could not open the sequencer: ${errorText(e)}`;
    }
    if (why === null && !this.closed) {
      this.current = sequencer;
      this.leaderUrl = null;
      this.m.takeovers.inc();
      sequencer.start();
      // A new election log's first entry is its log record: ready once it is in (or the attempt ended).
      if (sequencer.genesis) await sequencer.genesis.catch(() => {});
      this.settle();
      this.log('leading', { size: sequencer.head.size });
      await stopping;
    }
    this.settle();
    unlisten();
    lease.stopRenewing();
    sequencer.stepDown(why ?? 'closing');
    await sequencer.stop();
    return why ?? 'closing';
  }
}
