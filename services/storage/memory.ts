/**
 * In-memory LogStore for tests, with failure injection. It checks the
 * storage contract as it goes: a tile may only grow by appending (a commit
 * that rewrites existing tile bytes throws, as a corrupted write would).
 */
import { equalBytes, toHex } from '../../ledger/bytes.js';
import type { Hash } from '../../ledger/hash.js';
import type { Tile } from '../../ledger/tile.js';
import type { CommitBatch, LogStore, StoredHead } from './store.js';
import { StorageUnavailableError } from './errors.js';
import { leafKey, tileStoreKey } from './store.js';

/** Where an injected fault fires. */
export type StoreFault = 'commit' | 'readTiles' | 'writeCheckpoint';

export class MemoryStore implements LogStore {
  private head: StoredHead | null = null;
  private checkpoint: string | null = null;
  private readonly tiles = new Map<string, Uint8Array>();
  private readonly leaves = new Map<string, number>();
  private readonly extra = new Map<string, Uint8Array>();
  /** Set to make the next operation of that kind fail (the fault is consumed). */
  readonly failNext = new Set<StoreFault>();
  /**
   * While set, every operation fails with StorageUnavailableError, as a
   * LevelStore does after a disk-full or out-of-file-descriptors error
   * until it could reopen.
   */
  ioFault: string | null = null;
  commits = 0;

  private fault(kind: StoreFault): void {
    this.io();
    if (this.failNext.delete(kind)) throw new Error(`injected ${kind} failure`);
  }

  private io(): void {
    if (this.ioFault !== null) throw new StorageUnavailableError(`storage unavailable: ${this.ioFault}`);
  }

  async readHead(): Promise<StoredHead | null> {
    this.io();
    return this.head;
  }

  async readTiles(tiles: readonly Tile[]): Promise<Array<Uint8Array | null>> {
    this.fault('readTiles');
    return tiles.map((t) => this.tiles.get(tileStoreKey(t)) ?? null);
  }

  async lookupLeaves(leafHashes: readonly Hash[]): Promise<Array<number | null>> {
    this.io();
    return leafHashes.map((h) => this.leaves.get(leafKey(toHex(h))) ?? null);
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.fault('commit');
    for (const { tile, data } of batch.tiles) {
      const old = this.tiles.get(tileStoreKey(tile));
      if (old && (old.length > data.length || !equalBytes(old, data.subarray(0, old.length)))) {
        throw new Error(`contract violation: tile ${tileStoreKey(tile)} rewritten`);
      }
    }
    for (const { tile, data } of batch.tiles) this.tiles.set(tileStoreKey(tile), data.slice());
    for (const { leafHash, index } of batch.leaves) this.leaves.set(leafKey(toHex(leafHash)), index);
    for (const { key, value } of batch.extra ?? []) this.extra.set(key, value.slice());
    this.head = { size: batch.head.size, root: batch.head.root, edge: [...batch.head.edge] };
    this.commits++;
  }

  async readCheckpoint(): Promise<string | null> {
    this.io();
    return this.checkpoint;
  }

  async writeCheckpoint(note: string): Promise<void> {
    this.fault('writeCheckpoint');
    this.checkpoint = note;
  }

  async readExtra(key: string): Promise<Uint8Array | null> {
    this.io();
    return this.extra.get(key) ?? null;
  }

  async readExtras(keys: readonly string[]): Promise<Array<Uint8Array | null>> {
    this.io();
    return keys.map((k) => this.extra.get(k) ?? null);
  }

  async scanExtra(prefix: string, limit = Infinity): Promise<Array<{ key: string; value: Uint8Array }>> {
    return [...this.extra.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .slice(0, limit)
      .map((key) => ({ key, value: this.extra.get(key)! }));
  }

  /** Test hook: lose a leaf-index record, as a dropped write would. */
  dropLeaf(leafHash: Hash): void {
    this.leaves.delete(leafKey(toHex(leafHash)));
  }

  /** Test hook: overwrite a stored tile's bytes, as disk corruption would. */
  corruptTile(tile: Pick<Tile, 'level' | 'index'>, data: Uint8Array): void {
    this.tiles.set(tileStoreKey(tile), data);
  }

  async close(): Promise<void> {}
}
