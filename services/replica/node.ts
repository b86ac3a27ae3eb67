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
import type { LogNode, NodeStatus } from '../api/log-node.js';
import type { CheckpointFeed } from '../journal/checkpoints.js';
import { encodedBatchBytes, JournalUnavailableError, type Journal } from '../journal/journal.js';
import type { Lease } from '../journal/lease.js';
import { publishCheckpoint } from '../journal/subjects.js';
import type { Registry } from '../metrics.js';
import { Mirror } from '../mirror/mirror.js';
import type { Admission } from '../sequencer/admission.js';
import { errorText } from '../sequencer/materialize.js';
import type { PublishedHead, SubmitResult } from '../sequencer/receipts.js';
import type { Replicator } from '../sequencer/replicator.js';
import { Sequencer, type SequencerOptions } from '../sequencer/sequencer.js';
import type { TileCache } from '../sequencer/tile-reader.js';
import type { LogStore } from '../storage/store.js';
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
  metrics: Registry;
  /** Batch settings and fault injection for the sequencer while leading. */
  sequencer: Pick<SequencerOptions, 'batchPeriodMs' | 'maxBatch' | 'maxPending' | 'fault'>;
  /** How often a standby tries to take the lease (default 200 ms). */
  leasePollMs?: number;
  /** Progress messages (role changes). */
  log?: (message: string) => void;
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
    });
  }

  get head(): PublishedHead {
    return this.current.head;
  }

  submit(entry: Uint8Array): Promise<SubmitResult> {
    return this.current.submit(entry);
  }

  receiptFor(index: number, leafHash: Hash): Promise<SubmitResult> {
    return this.current.receiptFor(index, leafHash);
  }

  status(): NodeStatus {
    return this.current.status();
  }

  storageCorrupt(error: Error): void {
    if (this.current instanceof Mirror) this.current.storageCorrupt(error);
  }

  /** Whether this node leads now. */
  get leading(): boolean {
    return this.current instanceof Sequencer && this.current.fatal === null;
  }

  /** Stops: a leader stops sequencing and releases the lease; a standby stops following. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
  }

  private log(message: string): void {
    this.opts.log?.(message);
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
        if (standby.status().ok) {
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
      this.log(`${this.origin}: took the lease at journal sequence ${standby.sequence}; catching up`);
      const stopped = await this.lead();
      this.m.stepdowns.inc();
      this.log(`${this.origin}: stepped down: ${stopped}`);
      await lease.release().catch(() => {});
      this.leaderUrl = null;
      if (this.closed) return;
      try {
        standby = await ReplicatedNode.openStandby(this.opts, () => this.leaderUrl);
      } catch (e) {
        this.log(`${this.origin}: cannot reopen as a standby: ${errorText(e)}`);
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
        metrics: this.opts.metrics,
        replicator,
        onStop: (e) => end(e.message),
      });
    } catch (e) {
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
      this.settle();
      this.log(`${this.origin}: leading at size ${sequencer.head.size}`);
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
