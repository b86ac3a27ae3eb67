/**
 * Async access to the Merkle tree stored as tiles. The ledger core is
 * synchronous and does one batched read per algorithm (STYLE.md §1), so a
 * computation runs against a cache of tiles; when it asks for a tile the
 * cache lacks, the computation is abandoned, the missing tiles are fetched in
 * one batched store read, and it runs again (at most a few rounds).
 */
import { UrnaError } from '../../ledger/errors.js';
import { HASH_SIZE, type Hash } from '../../ledger/hash.js';
import type { HashReader } from '../../ledger/merkle.js';
import { TileHashReader, type Tile } from '../../ledger/tile.js';
import type { LogStore } from '../storage/store.js';
import { tileKey } from '../storage/store.js';

/** Stored data that contradicts itself or the tree head: the log must not serve it. */
export class StorageCorruptError extends UrnaError {
  constructor(message: string) {
    super('storage_corrupt', message);
  }
}

class MissingTiles {
  constructor(readonly tiles: Tile[]) {}
}

/** Bytes per unit of a tile's width: 32 for hash tiles; entry bundles have no fixed size. */
function tileBytes(tile: Tile): number | null {
  return tile.level < 0 ? null : tile.width * HASH_SIZE;
}

/** Entries in a bundle (uint16 length-prefixed, C2SP tlog-tiles), counting only complete ones. */
function bundleCount(data: Uint8Array): number {
  let n = 0;
  for (let o = 0; o + 2 <= data.length; n++) {
    o += 2 + ((data[o]! << 8) | data[o + 1]!);
    if (o > data.length) break;
  }
  return n;
}

/**
 * An LRU cache of tile data in front of a LogStore. Holds the widest data
 * seen for each (level, index); callers get exactly the width they ask for.
 * Only committed data may be put in (the sequencer adds a batch's tiles after
 * its commit resolved).
 */
export class TileCache {
  private readonly map = new Map<string, Uint8Array>();
  /**
   * Stored hashes by stored-hash index (golang.org/x/mod sumdb/tlog layout).
   * A stored hash is the root of a complete subtree and never changes once it
   * exists, so it may be kept across tree sizes. Deriving one from a tile can
   * cost up to 255 hashes (C2SP tlog-tiles keeps only every 8th level), so
   * receipts for a batch of neighbouring leaves share them here.
   */
  private readonly hashes = new Map<number, Hash>();

  constructor(
    private readonly store: LogStore,
    private readonly capacity = 4096,
    private readonly hashCapacity = 1 << 17,
  ) {}

  /** Records committed tiles. */
  put(tiles: ReadonlyArray<{ tile: Tile; data: Uint8Array }>): void {
    for (const { tile, data } of tiles) this.set(tileKey(tile), data);
  }

  private set(key: string, data: Uint8Array): void {
    const old = this.map.get(key);
    if (old && old.length >= data.length) return;
    this.map.delete(key);
    this.map.set(key, data);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  /** Cached data for a hash tile cut to its width, or undefined if not cached or too short. */
  private cached(tile: Tile): Uint8Array | undefined {
    const key = tileKey(tile);
    const data = this.map.get(key);
    const need = tileBytes(tile);
    if (!data || need === null || data.length < need) return undefined;
    this.map.delete(key); // refresh LRU position
    this.map.set(key, data);
    return data.subarray(0, need);
  }

  /**
   * Tiles (hash tiles or entry bundles) from the cache, or else from the
   * store; throws StorageCorruptError if absent. Hash tiles come back at
   * exactly their width; bundles as stored (possibly wider).
   */
  async fetch(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const missing: number[] = [];
    tiles.forEach((tile, i) => {
      const d = tile.level < 0 ? this.cachedBundle(tile) : this.cached(tile);
      if (d) out[i] = d;
      else missing.push(i);
    });
    if (missing.length === 0) return out;
    const data = await this.store.readTiles(missing.map((i) => tiles[i]!));
    missing.forEach((i, j) => {
      const tile = tiles[i]!;
      const d = data[j];
      const need = tileBytes(tile);
      if (!d || (need !== null && d.length < need)) {
        throw new StorageCorruptError(`tile ${tileKey(tile)} width ${tile.width} missing from storage`);
      }
      this.set(tileKey(tile), d);
      out[i] = need === null ? d : d.subarray(0, need);
    });
    return out;
  }

  /** A cached entry bundle holding at least `tile.width` entries. */
  private cachedBundle(tile: Tile): Uint8Array | undefined {
    const key = tileKey(tile);
    const data = this.map.get(key);
    if (!data || bundleCount(data) < tile.width) return undefined;
    return data;
  }

  /** A HashReader answering from the stored-hash memo first, then from tiles. */
  private memoized(tiles: HashReader): HashReader {
    return {
      readHashes: (indexes) => {
        const out: Hash[] = new Array<Hash>(indexes.length);
        const missing: number[] = [];
        indexes.forEach((index, i) => {
          const h = this.hashes.get(index);
          if (h) out[i] = h;
          else missing.push(i);
        });
        if (missing.length === 0) return out;
        const read = tiles.readHashes(missing.map((i) => indexes[i]!));
        missing.forEach((i, j) => {
          out[i] = read[j]!;
          this.hashes.set(indexes[i]!, read[j]!);
        });
        while (this.hashes.size > this.hashCapacity) this.hashes.delete(this.hashes.keys().next().value!);
        return out;
      },
    };
  }

  /**
   * Runs a synchronous computation over the tree of `size`, fetching the
   * tiles it needs. `compute` must be pure: it may run more than once.
   */
  async withHashes<T>(size: number, compute: (reader: HashReader) => T): Promise<T> {
    for (let round = 0; ; round++) {
      const tileReader = new TileHashReader(size, (tiles) => {
        const out: Uint8Array[] = [];
        const missing: Tile[] = [];
        for (const t of tiles) {
          const d = this.cached(t);
          if (d) out.push(d);
          else missing.push(t);
        }
        if (missing.length) throw new MissingTiles(missing);
        return out;
      });
      const reader = this.memoized(tileReader);
      try {
        return compute(reader);
      } catch (e) {
        if (!(e instanceof MissingTiles) || round >= 3) throw e;
        await this.fetch(e.tiles);
      }
    }
  }
}
