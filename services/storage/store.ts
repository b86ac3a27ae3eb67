/**
 * The sequencer's storage contract. Two implementations: LevelDB
 * (level.ts, durable) and memory (memory.ts, with failure injection for tests).
 *
 * Contract (the crash-safety of the log rests on it):
 * - `commit` is atomic and durable: when its promise resolves, every tile,
 *   leaf-index entry and the tree head of the batch are on disk (fsync), and
 *   after a crash either all of them or none of them are visible.
 * - Tiles are stored one value per (level, index), holding the widest data
 *   written so far; a tile only ever grows by appending hashes, so any
 *   narrower partial tile is a prefix of it (C2SP tlog-tiles).
 * - The tree head is the single source of truth for the tree size: a tile or
 *   leaf index beyond it is a leftover of nothing (commits are atomic) and is
 *   never read for sizes beyond the head.
 */
import { fromBase64, readUint64BE, toBase64, uint64BE } from '../../ledger/bytes.js';
import type { Hash } from '../../ledger/hash.js';
import type { TreeHead } from '../../ledger/merkle.js';
import { ENTRIES_LEVEL, type Tile } from '../../ledger/tile.js';

/** The committed tree: its head, and the right edge (compact range) at its size. */
export interface StoredHead extends TreeHead {
  /** Hashes of the maximal complete subtrees of the tree, left to right. */
  edge: Hash[];
}

/** One sequenced batch, committed atomically. */
export interface CommitBatch {
  head: StoredHead;
  /** Tiles and entry bundles changed by the batch, at their new widths. */
  tiles: Array<{ tile: Tile; data: Uint8Array }>;
  /** Leaf hash → index for every entry of the batch (idempotent resubmission). */
  leaves: Array<{ leafHash: Hash; index: number }>;
  /** Extra key/values committed in the same atomic write (projections). */
  extra?: Array<{ key: string; value: Uint8Array }>;
  /**
   * False: atomic but not yet durable (no fsync) — for batches replayed from
   * the journal when more follow at once; the next durable commit makes it
   * durable too (LevelDB's write-ahead log is sequential), and a power loss
   * before then only loses what the journal still holds. Default true.
   */
  durable?: boolean;
}

export interface LogStore {
  /** The last committed tree head, or null for an empty store. */
  readHead(): Promise<StoredHead | null>;
  /**
   * Reads tiles by (level, index). Each result holds at least `tile.width`
   * hashes (entries, for bundles) when present, possibly more; null if absent.
   */
  readTiles(tiles: readonly Tile[]): Promise<Array<Uint8Array | null>>;
  /** The index of each leaf hash, or null if it is not in the log. */
  lookupLeaves(leafHashes: readonly Hash[]): Promise<Array<number | null>>;
  /** Atomically and durably commits a batch (see the contract above). */
  commit(batch: CommitBatch): Promise<void>;
  /** The latest signed checkpoint note, or null. */
  readCheckpoint(): Promise<string | null>;
  /** Stores the latest signed checkpoint (deterministic from the head, so it may be lost and re-signed). */
  writeCheckpoint(note: string): Promise<void>;
  /** Reads an extra value committed with a batch. */
  readExtra(key: string): Promise<Uint8Array | null>;
  /** Reads several extra values in one batched read (null where absent). */
  readExtras(keys: readonly string[]): Promise<Array<Uint8Array | null>>;
  /** Reads extra values under a key prefix, in key order. */
  scanExtra(prefix: string, limit?: number): Promise<Array<{ key: string; value: Uint8Array }>>;
  close(): Promise<void>;
}

/** Key of a tile's value: one per (level, index), ordered. Level -1 is the entry bundles. */
export function tileStoreKey(tile: Pick<Tile, 'level' | 'index'>): string {
  const level = tile.level === ENTRIES_LEVEL ? 'e' : String(tile.level);
  return `t/${level}/${tile.index.toString(16).padStart(13, '0')}`;
}

/** Key of a leaf-hash index entry. */
export function leafKey(hexLeafHash: string): string {
  return `l/${hexLeafHash}`;
}

/** Encodes the tree head (JSON, hashes in base64). */
export function encodeHead(head: StoredHead): Uint8Array {
  const json = { size: head.size, root: toBase64(head.root), edge: head.edge.map(toBase64) };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Decodes a tree head written by encodeHead. */
export function decodeHead(data: Uint8Array): StoredHead {
  const j = JSON.parse(new TextDecoder().decode(data)) as { size: number; root: string; edge: string[] };
  return { size: j.size, root: fromBase64(j.root), edge: j.edge.map(fromBase64) };
}

/** A leaf index as 8 big-endian bytes. */
export function encodeIndex(index: number): Uint8Array {
  return uint64BE(index);
}

/** Decodes encodeIndex. */
export function decodeIndex(data: Uint8Array): number {
  return readUint64BE(data);
}
