/**
 * Async access to the Merkle tree stored as tiles. The ledger core is
 * synchronous and does one batched read per algorithm (STYLE.md §1), so a
 * computation runs against a cache of tiles; when it asks for a tile the
 * cache lacks, the computation is abandoned, the missing tiles are fetched in
 * one batched store read, and it runs again (at most a few rounds).
 *
 * What a node serves to others goes through `fetchVerified`, which
 * authenticates stored tiles against a signed tree head before handing them
 * out, so a tile corrupted on disk is refused rather than served.
 */
import { equalBytes, toHex } from '../../ledger/bytes.js';
import { UrnaError } from '../../ledger/errors.js';
import { HASH_SIZE, leafHash, type Hash } from '../../ledger/hash.js';
import { treeHash, type HashReader, type TreeHead } from '../../ledger/merkle.js';
import {
  edgeTiles,
  parentTile,
  UnverifiedTileHashReader,
  tilePath,
  tileRoot,
  TILE_WIDTH,
  widthAtSize,
  type Tile,
} from '../../ledger/tile.js';
import type { LogStore } from '../storage/store.js';
import { tileKey } from '../storage/store.js';
import { StorageCorruptError } from '../storage/errors.js';

class MissingTiles {
  constructor(readonly tiles: Tile[]) {}
}

/** Bytes in a full hash tile. */
const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/** Signed tree heads whose authenticated edge tiles are remembered. */
const HEAD_MEMO = 8;

/**
 * The end offsets of the first (up to) `max` complete entries of a bundle
 * (uint16 length-prefixed, C2SP tlog-tiles "Log entries").
 */
function entryEnds(data: Uint8Array, max: number): number[] {
  const ends: number[] = [];
  for (let o = 0; ends.length < max && o + 2 <= data.length;) {
    o += 2 + ((data[o]! << 8) | data[o + 1]!);
    if (o > data.length) break;
    ends.push(o);
  }
  return ends;
}

/** Whether stored `data` holds at least `tile.width` hashes (complete entries, for a bundle). */
function holds(tile: Tile, data: Uint8Array): boolean {
  return tile.level < 0
    ? entryEnds(data, tile.width).length === tile.width
    : data.length >= tile.width * HASH_SIZE;
}

/** Stored data as `fetch` returns it: a hash tile cut to its width, a bundle as stored. */
function cut(tile: Tile, data: Uint8Array): Uint8Array {
  return tile.level < 0 ? data : data.subarray(0, tile.width * HASH_SIZE);
}

/** The hash at `position` of hash tile data. */
function hashAt(data: Uint8Array, position: number): Hash {
  return data.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE);
}

/** The hash tile a tile is checked against: itself, or for a bundle the level-0 tile of its index. */
function hashTileOf(tile: Tile): Tile {
  return { ...tile, level: Math.max(tile.level, 0) };
}

/** Authenticated tile data by tileKey: hash tiles at their width at the head's size. */
type Authentic = Map<string, Uint8Array>;

/** The memo key of a signed tree head. */
function headKey(head: TreeHead): string {
  return `${head.size}:${toHex(head.root)}`;
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
  /**
   * Stored hashes read from tiles that {@link fetchVerified} authenticated
   * against a signed head. A stored hash is the root of a complete subtree,
   * the same in every later tree of a log that never forks, so it stays
   * authentic: authenticated runs of {@link withHashes} read from here.
   */
  private readonly verifiedHashes = new Map<number, Hash>();
  /**
   * Stored data objects (as held in `map`) that {@link fetchVerified}
   * authenticated: full hash tiles and full entry bundles, which never
   * change. Keyed by the object, not the tile, so a tile evicted and read
   * again from the store is checked again; bounded by the cache itself.
   */
  private readonly verified = new WeakSet<Uint8Array>();
  /** The authenticated edge tiles of recent signed heads, by `size:root`. */
  private readonly heads = new Map<string, Promise<Authentic>>();

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

  /** The cached data of a tile if it holds at least its width (refreshing its LRU position). */
  private cachedRaw(tile: Tile): Uint8Array | undefined {
    const key = tileKey(tile);
    const data = this.map.get(key);
    if (!data || !holds(tile, data)) return undefined;
    this.map.delete(key);
    this.map.set(key, data);
    return data;
  }

  /** Cached data for a hash tile cut to its width, or undefined if not cached or too short. */
  private cached(tile: Tile): Uint8Array | undefined {
    const data = this.cachedRaw(tile);
    return data && cut(tile, data);
  }

  /**
   * The stored data of tiles as held (a hash tile possibly wider than asked),
   * from the cache, or else from the store in one batched read and then
   * cached. Throws StorageCorruptError if a tile is absent or narrower.
   */
  private async readRaw(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const missing: number[] = [];
    tiles.forEach((tile, i) => {
      const d = this.cachedRaw(tile);
      if (d) out[i] = d;
      else missing.push(i);
    });
    if (missing.length === 0) return out;
    const data = await this.store.readTiles(missing.map((i) => tiles[i]!));
    missing.forEach((i, j) => {
      const tile = tiles[i]!;
      const d = data[j];
      if (!d || !holds(tile, d)) {
        throw new StorageCorruptError(
          `${tilePath(tile)} is missing from storage or narrower than its width ${tile.width}: stored data is corrupt`,
        );
      }
      this.set(tileKey(tile), d);
      out[i] = d;
    });
    return out;
  }

  /**
   * Tiles (hash tiles or entry bundles) from the cache, or else from the
   * store; throws StorageCorruptError if absent. Hash tiles come back at
   * exactly their width; bundles as stored (possibly wider). Not
   * authenticated: for data this node just committed (see fetchVerified).
   */
  async fetch(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const data = await this.readRaw(tiles);
    return data.map((d, i) => cut(tiles[i]!, d));
  }

  /**
   * Like {@link fetch}, but every tile is authenticated against the signed
   * tree `head` (Go tlog's TileHashReader does the same): hash tiles come
   * back at exactly their width, bundles holding exactly their `width`
   * entries (a prefix of the stored bundle), and only if they are provably
   * part of the tree of `head.size` leaves whose root is `head.root`:
   *
   * - the partial tiles at `head.size` (the {@link edgeTiles}) iff the tree
   *   hash recomputed from them is `head.root` (once per head);
   * - a full hash tile iff its {@link tileRoot} is the hash at its position
   *   in its {@link parentTile}, itself authentic (recursively, up to an
   *   edge tile); remembered per stored data object;
   * - a tile narrower than at `head.size` iff the tile at that size is; it
   *   is served as a prefix of it;
   * - an entry bundle iff the leaf hashes of its first `width` entries are
   *   the hashes of the authentic level-0 tile of the same index.
   *
   * Throws StorageCorruptError naming the tile whose stored data does not
   * match (it is evicted from the cache, so a repaired store is read again);
   * UrnaError `not_found` for a tile beyond `head.size`; TypeError/RangeError
   * for a bad tile or head.
   */
  async fetchVerified(tiles: readonly Tile[], head: TreeHead): Promise<Uint8Array[]> {
    const { size, root } = head;
    if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE) {
      throw new TypeError('head.root: expected 32 bytes');
    }
    // Each tile at its width at `size`: what is authenticated, then cut.
    const atSize = tiles.map((t) => {
      const path = tilePath(t); // checks the tile
      const width = widthAtSize(t.level, t.index, size);
      if (t.width > width) throw new UrnaError('not_found', `${path} is not in the tree of size ${size}`);
      return { level: t.level, index: t.index, width };
    });
    if (tiles.length === 0) return [];
    await this.prefetch(atSize, head);
    const edge = await this.edgeFor(head);
    // Bundles already authenticated (full ones, remembered) need no hash tile.
    const bundles = new Map<number, Uint8Array>();
    const bundleAt = atSize.flatMap((t, i) => (t.level < 0 ? [i] : []));
    (await this.readRaw(bundleAt.map((i) => atSize[i]!))).forEach((d, j) => bundles.set(bundleAt[j]!, d));
    const unchecked = atSize.filter((t, i) => t.level >= 0 || !this.verified.has(bundles.get(i)!));
    const hashes = await this.authenticHashTiles(unchecked.map(hashTileOf), size, edge);
    return tiles.map((t, i) => {
      const level0 = hashes.get(tileKey(hashTileOf(t)));
      if (t.level >= 0) return level0!.subarray(0, t.width * HASH_SIZE);
      return this.authenticBundle(atSize[i]!, bundles.get(i)!, level0, t.width, size);
    });
  }

  /** Whether the cached data of a tile is one that fetchVerified authenticated. */
  private isVerified(tile: Tile): boolean {
    const data = this.map.get(tileKey(tile));
    return data !== undefined && this.verified.has(data);
  }

  /**
   * Brings into the cache, in one batched store read, what authenticating
   * `tiles` (at their width at `head.size`) will read: the edge tiles of a
   * head not yet authenticated, the bundles, and each hash tile with its
   * chain of parents up to an edge tile or an authenticated cached tile.
   * Only an optimisation: the checks read through the cache again.
   */
  private async prefetch(tiles: Tile[], head: TreeHead): Promise<void> {
    const plan = new Map<string, Tile>();
    if (!this.heads.has(headKey(head))) for (const t of edgeTiles(head.size)) plan.set(tileKey(t), t);
    for (const tile of tiles) {
      if (tile.level < 0) {
        plan.set(tileKey(tile), tile);
        if (this.isVerified(tile)) continue;
      }
      let t = hashTileOf(tile);
      while (t.width === TILE_WIDTH && !plan.has(tileKey(t)) && !this.isVerified(t)) {
        plan.set(tileKey(t), t);
        t = parentTile(t, head.size).tile;
      }
    }
    await this.readRaw([...plan.values()]);
  }

  /**
   * The edge tiles of the tree `head` (see {@link edgeTiles}), authenticated
   * by recomputing its root from them. Memoized per head (size and root);
   * a failure is not remembered.
   */
  private edgeFor(head: TreeHead): Promise<Authentic> {
    const key = headKey(head);
    let pending = this.heads.get(key);
    if (pending === undefined) {
      const p = this.authenticateEdge(head.size, head.root);
      p.catch(() => {
        if (this.heads.get(key) === p) this.heads.delete(key);
      });
      this.heads.set(key, p);
      if (this.heads.size > HEAD_MEMO) this.heads.delete(this.heads.keys().next().value!);
      pending = p;
    }
    return pending;
  }

  private async authenticateEdge(size: number, root: Hash): Promise<Authentic> {
    const tiles = edgeTiles(size);
    const data = await this.readRaw(tiles);
    const edge: Authentic = new Map(tiles.map((t, i) => [tileKey(t), cut(t, data[i]!)]));
    // treeHash reads exactly the edge hashes, all from these tiles (see edgeTiles).
    const reader = new UnverifiedTileHashReader(size, (ts) => ts.map((t) => edge.get(tileKey(t))!));
    if (!equalBytes(treeHash(size, reader), root)) {
      for (const t of tiles) this.map.delete(tileKey(t));
      throw new StorageCorruptError(
        `${tiles.map(tilePath).join(', ')} do not match the signed tree at size ${size}: stored data is corrupt`,
      );
    }
    return edge;
  }

  /**
   * Authenticated data, by tileKey, of hash tiles given at their width at
   * `size`: each is one of the authenticated `edge` tiles or full. A full
   * tile is authentic iff its tileRoot is the hash at its position in its
   * parent tile, itself authentic: parents are checked first (one level per
   * recursion, with one batched read), so a mismatch names the highest
   * corrupt tile.
   */
  private async authenticHashTiles(
    tiles: readonly Tile[],
    size: number,
    edge: Authentic,
  ): Promise<Authentic> {
    const out: Authentic = new Map();
    const full = new Map<string, Tile>();
    for (const t of tiles) {
      const key = tileKey(t);
      const e = edge.get(key);
      if (e) out.set(key, e);
      else if (t.width === TILE_WIDTH) full.set(key, t);
      else throw new Error(`${tilePath(t)} is partial but not an edge tile at size ${size}`); // cannot happen
    }
    const list = [...full.values()];
    const data = await this.readRaw(list);
    const unchecked = list.flatMap((t, i) => (this.verified.has(data[i]!) ? [] : [i]));
    if (unchecked.length > 0) {
      const parents = unchecked.map((i) => parentTile(list[i]!, size));
      const parentData = await this.authenticHashTiles(
        parents.map((p) => p.tile),
        size,
        edge,
      );
      unchecked.forEach((i, j) => {
        const { tile: parent, position } = parents[j]!;
        const want = hashAt(parentData.get(tileKey(parent))!, position);
        if (!equalBytes(tileRoot(data[i]!.subarray(0, FULL_TILE_BYTES)), want)) this.corrupt(list[i]!, size);
        this.verified.add(data[i]!);
      });
    }
    list.forEach((t, i) => out.set(tileKey(t), data[i]!.subarray(0, FULL_TILE_BYTES)));
    return out;
  }

  /**
   * The first `width` entries of the stored bundle `data` (a prefix of its
   * bytes), once the bundle `tile` (at its width at `size`) is authentic:
   * a remembered full bundle, or else the leaf hash of each of its entries
   * is the hash at its position in `level0`, the authentic level-0 tile of
   * the same index.
   */
  private authenticBundle(
    tile: Tile,
    data: Uint8Array,
    level0: Uint8Array | undefined,
    width: number,
    size: number,
  ): Uint8Array {
    const ends = entryEnds(data, tile.width);
    if (!this.verified.has(data)) {
      ends.forEach((end, i) => {
        const start = i === 0 ? 0 : ends[i - 1]!;
        // Leaf hash SHA-256(0x00 || entry), RFC 9162 §2.1.1.
        if (!equalBytes(leafHash(data.subarray(start + 2, end)), hashAt(level0!, i)))
          this.corrupt(tile, size);
      });
      if (tile.width === TILE_WIDTH) this.verified.add(data);
    }
    return data.subarray(0, ends[width - 1]);
  }

  /** Evicts a tile whose stored data contradicts the signed tree, and throws. */
  private corrupt(tile: Tile, size: number): never {
    this.map.delete(tileKey(tile));
    throw new StorageCorruptError(
      `${tilePath(tile)} does not match the signed tree at size ${size}: stored data is corrupt`,
    );
  }

  /**
   * A HashReader answering from `memo` first, then from tiles; what it reads
   * from tiles goes into `into` (default `memo`), bounded by hashCapacity.
   */
  private memoized(tiles: HashReader, memo: Map<number, Hash>, into = memo): HashReader {
    return {
      readHashes: (indexes) => {
        const out: Hash[] = new Array<Hash>(indexes.length);
        const missing: number[] = [];
        indexes.forEach((index, i) => {
          const h = memo.get(index);
          if (h) out[i] = h;
          else missing.push(i);
        });
        if (missing.length === 0) return out;
        const read = tiles.readHashes(missing.map((i) => indexes[i]!));
        missing.forEach((i, j) => {
          out[i] = read[j]!;
          into.set(indexes[i]!, read[j]!);
        });
        trim(into, this.hashCapacity);
        return out;
      },
    };
  }

  /**
   * Runs a synchronous computation over the tree of `size`, fetching the
   * tiles it needs. `compute` must be pure: it may run more than once.
   * With `head` (a signed tree at least `size` big), every tile the
   * computation read is then authenticated against it (`fetchVerified`,
   * StorageCorruptError if one does not match), so what is returned was
   * computed from authentic hashes only; without, the tiles are trusted
   * (the sequencer's own hot path, which verifies what it hands out).
   */
  async withHashes<T>(size: number, compute: (reader: HashReader) => T, head?: TreeHead): Promise<T> {
    for (let round = 0; ; round++) {
      const read = new Map<string, Tile>();
      const tileReader = new UnverifiedTileHashReader(size, (tiles) => {
        const out: Uint8Array[] = [];
        const missing: Tile[] = [];
        for (const t of tiles) {
          const d = this.cached(t);
          if (d) out.push(d);
          else missing.push(t);
          if (head) read.set(tileKey(t), t);
        }
        if (missing.length) throw new MissingTiles(missing);
        return out;
      });
      // Authenticated runs read only hashes that came from authenticated
      // tiles: those of `verifiedHashes`, and those read now, which join it
      // once the tiles they came from are authenticated.
      const fresh = new Map<number, Hash>();
      const reader = head
        ? this.memoized(tileReader, this.verifiedHashes, fresh)
        : this.memoized(tileReader, this.hashes);
      try {
        const result = compute(reader);
        if (head) {
          await this.fetchVerified([...read.values()], head);
          for (const [index, hash] of fresh) this.verifiedHashes.set(index, hash);
          trim(this.verifiedHashes, this.hashCapacity);
        }
        return result;
      } catch (e) {
        if (!(e instanceof MissingTiles) || round >= 3) throw e;
        await this.fetch(e.tiles);
      }
    }
  }
}

/** Drops the oldest entries of `map` beyond `capacity`. */
function trim<K, V>(map: Map<K, V>, capacity: number): void {
  while (map.size > capacity) map.delete(map.keys().next().value!);
}
