/**
 * A node's access to its Merkle tree stored as tiles: an LRU cache in front
 * of its LogStore, and the async half of reading the tree. The ledger core
 * is synchronous and does one batched read per algorithm, so a computation
 * runs against the cache; when it asks for a tile the cache lacks, it is abandoned, the missing tiles are read from the store in one
 * batch, and it runs again (a few rounds at most).
 *
 * What a node serves to others is authenticated against a signed tree head
 * by the ledger's own algorithm (ledger/tile-auth.ts: `fetchVerified`, and
 * `withHashes` given a head, read through its TileHashReader), the one every
 * reader of the log uses too: a tile corrupted on disk is refused
 * (StorageCorruptError naming it), never served.
 */
import { toHex } from '../../ledger/bytes.js';
import { UrnaError } from '../../ledger/errors.js';
import { HASH_SIZE, type Hash } from '../../ledger/hash.js';
import type { HashReader, TreeHead } from '../../ledger/merkle.js';
import {
  authenticateTiles,
  authenticationPlan,
  TileAuthError,
  tileData,
  TileHashReader,
  tileKey,
  type KnownTiles,
} from '../../ledger/tile-auth.js';
import {
  edgeTiles,
  entryBundlePrefix,
  ENTRIES_LEVEL,
  TILE_WIDTH,
  tilePath,
  UnverifiedTileHashReader,
  widthAtSize,
  type Tile,
} from '../../ledger/tile.js';
import { StorageCorruptError } from '../storage/errors.js';
import type { LogStore } from '../storage/store.js';
import { evictOldest, evictOldestWeighed } from '../../ledger/lru.js';

/** Thrown inside a computation to say: read these tiles and run it again. */
class MissingTiles {
  constructor(readonly tiles: Tile[]) {}
}

/**
 * Copies of hashes packed into shared 64 KiB buffers. A hash read from a
 * tile is a view of the tile's buffer (8 KiB when full), so a memo of views
 * keeps alive every tile it ever read from, long after the tile cache let
 * them go; a copy here keeps 32 bytes. A buffer is freed once none of its
 * hashes is kept, which for memos evicted oldest first is soon after it
 * fills.
 */
class HashSlab {
  private buffer = new Uint8Array(0);
  private used = 0;

  copy(hash: Hash): Hash {
    if (this.used === this.buffer.length) {
      this.buffer = new Uint8Array(2048 * HASH_SIZE);
      this.used = 0;
    }
    const copy = this.buffer.subarray(this.used, (this.used += HASH_SIZE));
    copy.set(hash);
    return copy;
  }
}

/** A cached tile: the widest data read or committed, and the width up to which it was authenticated. */
interface Cached {
  data: Uint8Array;
  authentic: number;
}

/** The memo key of a signed tree head. */
function headKey(head: TreeHead): string {
  return `${head.size}:${toHex(head.root)}`;
}

/** Whether stored `data` holds at least `tile.width` hashes (whole entries, for a bundle). */
function holds(tile: Tile, data: Uint8Array): boolean {
  if (tile.level !== ENTRIES_LEVEL) return data.length >= tile.width * HASH_SIZE;
  try {
    entryBundlePrefix(data, tile.width);
    return true;
  } catch {
    return false;
  }
}

/** Stored data cut to a tile's width: hash tiles to `width` hashes, bundles to their first `width` entries. */
function cut(tile: Tile, data: Uint8Array): Uint8Array {
  return tile.level === ENTRIES_LEVEL
    ? entryBundlePrefix(data, tile.width)
    : data.subarray(0, tile.width * HASH_SIZE);
}

/**
 * An LRU cache of tile data in front of a LogStore. Holds the widest data
 * seen for each (level, index); callers get exactly the width they ask for.
 * Only committed data may be put in (the sequencer adds a batch's tiles after
 * its commit resolved).
 */
export class TileCache {
  private readonly map = new Map<string, Cached>();
  /**
   * Stored hashes by stored-hash index (golang.org/x/mod sumdb/tlog layout),
   * read through unauthenticated runs (the sequencer's own tiles). A stored
   * hash is the root of a complete subtree and never changes once it
   * exists, so it may be kept across tree sizes; deriving one from a tile
   * can cost up to 255 hashes, so receipts for a batch of neighbouring
   * leaves share them here.
   */
  private readonly hashes = new Map<number, Hash>();
  /** The same for authenticated runs: only hashes a TileHashReader returned (from authenticated tiles). */
  private readonly verifiedHashes = new Map<number, Hash>();
  /** Where the memos' hashes are copied to, so that none keeps alive the tile it was read from. */
  private readonly slab = new HashSlab();

  /** The bytes of every cached tile's data. */
  private held = 0;

  /**
   * At most `capacity` tiles and `budget` bytes of them: a full hash tile is
   * 8 KiB, but an entry bundle is 256 records (28 KiB of 100-byte records,
   * megabytes of encrypted ballots), so a count alone does not bound the
   * memory; 4,096 tiles of a night's mix held 61 MiB at 10^6 records.
   */
  constructor(
    private readonly store: LogStore,
    private readonly capacity = 4096,
    private readonly hashCapacity = 1 << 17,
    private readonly budget = 32 * 1024 * 1024,
  ) {}

  /** Records committed tiles (wider data of a tile keeps what was authenticated of it: tiles only grow). */
  put(tiles: ReadonlyArray<{ tile: Tile; data: Uint8Array }>): void {
    for (const { tile, data } of tiles) this.set(tileKey(tile), data);
  }

  private set(key: string, data: Uint8Array, authentic = 0): void {
    const old = this.map.get(key);
    if (old && old.data.length >= data.length) {
      old.authentic = Math.max(old.authentic, authentic);
      return;
    }
    this.map.delete(key);
    this.map.set(key, { data, authentic: Math.max(old?.authentic ?? 0, authentic) });
    this.held += data.length - (old?.data.length ?? 0);
    this.held = evictOldestWeighed(
      this.map,
      { entries: this.capacity, bytes: this.budget },
      this.held,
      (e) => e.data.length,
    );
  }

  /** The cached entry of a tile if it holds at least its width (refreshing its LRU position). */
  private cachedEntry(tile: Tile): Cached | undefined {
    const key = tileKey(tile);
    const entry = this.map.get(key);
    if (!entry || !holds(tile, entry.data)) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry;
  }

  /** Cached data for a tile cut to its width, or undefined if not cached or too short. */
  private cached(tile: Tile): Uint8Array | undefined {
    const entry = this.cachedEntry(tile);
    return entry && cut(tile, entry.data);
  }

  /**
   * The authenticated edge tiles of recent signed heads (by size and root,
   * most recent last), kept apart from the LRU: every read under a head
   * needs them, and a head is checked against its own root only once.
   */
  private readonly edges = new Map<string, Map<string, Uint8Array>>();

  /**
   * KnownTiles for the ledger's authenticator under a head whose edge
   * tiles are `edge` (`this.edges`; undefined while the head has not been
   * authenticated): a full tile cached and authenticated (it is the same in
   * every tree of a log that never forks), a partial (edge) tile only if the
   * head itself authenticated, so each new head, and a wrong one, is
   * checked against its own root.
   */
  private knownFor(edge: ReadonlyMap<string, Uint8Array> | undefined): KnownTiles {
    // Answers are kept for the call: a tile evicted while the plan is read is not taken for unknown half-way.
    const answers = new Map<string, Uint8Array | undefined>();
    const lookup = (tile: Tile): Uint8Array | undefined => {
      if (tile.width < TILE_WIDTH || tile.level === ENTRIES_LEVEL) {
        const e = edge?.get(tileKey(tile));
        if (e) return cut(tile, e);
        if (tile.width < TILE_WIDTH) return undefined;
      }
      const entry = this.map.get(tileKey(tile));
      return entry && entry.authentic >= tile.width ? cut(tile, entry.data) : undefined;
    };
    return (tile) => {
      const key = `${tileKey(tile)}@${tile.width}`;
      if (!answers.has(key)) answers.set(key, lookup(tile));
      return answers.get(key);
    };
  }

  /**
   * Keeps `head`'s authenticated edge tiles (a few heads), unless they are
   * kept already; `authentic` gives a tile's data by its key if it was
   * authenticated against `head`.
   */
  private headAuthentic(head: TreeHead, authentic: (key: string) => Uint8Array | undefined): void {
    const key = headKey(head);
    if (this.edges.has(key)) return;
    const edge = new Map<string, Uint8Array>();
    for (const t of edgeTiles(head.size)) {
      const d = authentic(tileKey(t));
      if (d) edge.set(tileKey(t), d);
    }
    this.edges.set(key, edge);
    evictOldest(this.edges, 8);
  }

  /** Remembers tiles the authenticator accepted, up to the width they were authenticated at. */
  private saveAuthentic(tiles: readonly Tile[]): void {
    for (const t of tiles) {
      const entry = this.map.get(tileKey(t));
      if (entry) entry.authentic = Math.max(entry.authentic, t.width);
    }
  }

  /**
   * The stored data of tiles as held (possibly wider than asked), from the
   * cache, or else from the store in one batched read and then cached.
   * Throws StorageCorruptError if a tile is absent or narrower.
   */
  private async readRaw(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const missing: number[] = [];
    tiles.forEach((tile, i) => {
      const e = this.cachedEntry(tile);
      if (e) out[i] = e.data;
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
   * store, cut to their width; throws StorageCorruptError if absent. Not
   * authenticated: for data this node just committed (see fetchVerified).
   */
  async fetch(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const data = await this.readRaw(tiles);
    return data.map((d, i) => cut(tiles[i]!, d));
  }

  /**
   * Like {@link fetch}, but every tile is authenticated against the signed
   * tree `head` by ledger/tile-auth.ts (hash tiles at exactly their width,
   * bundles their first `width` entries), reading what authentication needs
   * (the edge tiles, the parent chains) in one batched store read.
   *
   * Throws StorageCorruptError naming the tile whose stored data does not
   * authenticate (it is evicted from the cache, so a repaired store is read
   * again); UrnaError `not_found` for a tile beyond `head.size`;
   * TypeError/RangeError for a bad tile or head.
   */
  async fetchVerified(tiles: readonly Tile[], head: TreeHead): Promise<Uint8Array[]> {
    const { size } = head;
    if (!(head.root instanceof Uint8Array) || head.root.length !== HASH_SIZE)
      throw new TypeError('head.root: expected 32 bytes');
    for (const t of tiles) {
      tilePath(t); // checks the tile
      if (t.width > widthAtSize(t.level, t.index, size))
        throw new UrnaError('not_found', `${tilePath(t)} is not in the tree of size ${size}`);
    }
    if (tiles.length === 0) return [];
    const edge = this.edges.get(headKey(head));
    const known = this.knownFor(edge);
    // The read path's common case: `head` was checked against its root
    // already, and every tile asked for is known authentic (a full tile
    // once authenticated, or an edge tile of this very head).
    if (edge) {
      const ready = tiles.map((t) => known(t));
      if (ready.every((d) => d !== undefined)) return ready;
    }
    const authentic = await this.authenticate(tiles, head, known);
    return tiles.map((t) => tileData(t, authentic));
  }

  /** Reads what authenticating `tiles` needs, authenticates them (ledger), remembers what passed. */
  private async authenticate(
    tiles: readonly Tile[],
    head: TreeHead,
    known: KnownTiles,
  ): Promise<Map<string, Uint8Array>> {
    const plan = authenticationPlan(tiles, head.size, known).filter((t) => known(t) === undefined);
    const raw = await this.readRaw(plan);
    const read = new Map(plan.map((t, i) => [tileKey(t), raw[i]!]));
    let authentic: Map<string, Uint8Array>;
    try {
      authentic = authenticateTiles(head, tiles, (t) => read.get(tileKey(t)), known);
    } catch (e) {
      throw this.corrupt(e);
    }
    this.saveAuthentic(plan);
    this.headAuthentic(head, (key) => authentic.get(key));
    return authentic;
  }

  /** A TileAuthError as StorageCorruptError, its tile evicted (a repaired store is read again); other errors as they are. */
  private corrupt(e: unknown): unknown {
    if (!(e instanceof TileAuthError)) return e;
    const evicted = this.map.get(tileKey(e.tile));
    if (evicted) {
      this.map.delete(tileKey(e.tile));
      this.held -= evicted.data.length;
    }
    return new StorageCorruptError(`${e.message}: stored data is corrupt`, { cause: e });
  }

  /** A HashReader answering from `memo` first, then from `tiles`; what it reads from tiles goes into `memo`. */
  private memoized(tiles: HashReader, memo: Map<number, Hash>): HashReader {
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
          memo.set(indexes[i]!, this.slab.copy(read[j]!));
        });
        evictOldest(memo, this.hashCapacity);
        return out;
      },
    };
  }

  /**
   * Runs a synchronous computation over the tree of `size`, fetching the
   * tiles it needs. `compute` must be pure: it may run more than once.
   * With `head` (a signed tree at least `size` big), it reads through the
   * ledger's TileHashReader over `head`, which returns only hashes of tiles
   * authenticated against it (StorageCorruptError if one does not
   * authenticate); without, the tiles are trusted (the sequencer's own hot
   * path, which verifies what it hands out).
   */
  async withHashes<T>(size: number, compute: (reader: HashReader) => T, head?: TreeHead): Promise<T> {
    for (let round = 0; ; round++) {
      const fromCache = (tiles: Tile[]) => {
        const out: Uint8Array[] = [];
        const missing: Tile[] = [];
        for (const t of tiles) {
          const d = this.cached(t);
          if (d) out.push(d);
          else missing.push(t);
        }
        if (missing.length) throw new MissingTiles(missing);
        return out;
      };
      const reader = head
        ? this.memoized(
            new TileHashReader(head, {
              readTiles: fromCache,
              known: this.knownFor(this.edges.get(headKey(head))),
              saveTiles: (tiles, data) => {
                this.saveAuthentic(tiles);
                this.headAuthentic(head, (key) => data[tiles.findIndex((t) => tileKey(t) === key)]);
              },
            }),
            this.verifiedHashes,
          )
        : this.memoized(new UnverifiedTileHashReader(size, fromCache), this.hashes);
      try {
        return compute(reader);
      } catch (e) {
        if (e instanceof TileAuthError) throw this.corrupt(e);
        if (!(e instanceof MissingTiles) || round >= 8) throw e;
        await this.fetch(e.tiles);
      }
    }
  }
}
