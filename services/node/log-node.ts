/**
 * What the HTTP API serves: one node of a log. A single-node sequencer, the
 * leader or a standby of a replicated log, and a mirror all present the same
 * read side (the latest signed checkpoint they can prove, their tiles,
 * receipts); only a sequencer that leads accepts submissions. The others
 * refuse them with NotLeaderError, pointing to the leader when they know it.
 */
import { UrnaError } from '../../ledger/errors.js';
import type { Hash } from '../../ledger/hash.js';
import type { PublishedHead, EntryIndex, EntryReceipt, ReceiptWhen } from './receipts.js';
import type { TileCache } from './tile-cache.js';

/** How a node takes part in its log. */
export type NodeRole =
  /** The only sequencer (no journal). */
  | 'single'
  /** The sequencer holding the lease: it sequences and signs. */
  | 'leader'
  /** A sequencer following the journal, ready to take over. */
  | 'standby'
  /** A read-only copy following the journal. */
  | 'mirror';

export interface NodeStatus {
  role: NodeRole;
  /** False when the node cannot serve (fatal error, stepped down for good, corrupt storage). */
  ok: boolean;
  /** Why not ok. */
  error?: string;
  /** The leader's URL as last known (standbys and mirrors). */
  leader?: string;
  /**
   * Replication state: the last journal sequence applied; for mirrors and
   * standbys, how many entries and seconds the served checkpoint is behind
   * the newest signed checkpoint seen.
   */
  journal?: { sequence: number; steppedDown?: boolean; behind?: number; lagSeconds?: number };
}

export interface LogNode {
  readonly origin: string;
  /** The latest signed checkpoint this node serves, and the tree it commits to. */
  readonly head: PublishedHead;
  readonly tiles: TileCache;
  /**
   * Sequences an entry and resolves, once it is durable and signed, with its
   * receipt (or with its index only: `later`); NotLeaderError on a node that
   * does not lead.
   */
  submit(entry: Uint8Array, when?: 'now'): Promise<EntryReceipt>;
  submit(entry: Uint8Array, when: ReceiptWhen): Promise<EntryIndex>;
  /** A receipt for the entry at `index` (below `head.size`) at `head`, verified before it is returned. */
  receiptFor(index: number, leafHash: Hash): Promise<EntryReceipt>;
  status(): NodeStatus;
  /**
   * Told when serving a read met corrupt storage (StorageCorruptError): the
   * node reports itself not ok from then on (so it is taken out of
   * rotation, and a standby does not take over with it).
   */
  storageCorrupt?(error: Error): void;
  /**
   * Told when serving a read met a transient storage fault
   * (StorageUnavailableError): the node reports itself not ok until its
   * storage works again, and a sequencer takes no entries meanwhile.
   */
  storageUnavailable?(error: Error): void;
}

/** 503: this node does not sequence; submit to the leader (`leader`, when known). */
export class NotLeaderError extends UrnaError {
  readonly retryAfterSeconds = 1;
  constructor(
    readonly role: NodeRole,
    readonly leader: string | null,
  ) {
    super(
      'not_leader',
      `this node is a ${role} and does not accept submissions: ` +
        (leader ? `submit to the leader at ${leader}` : 'no leader is known right now, retry later'),
    );
  }
}
