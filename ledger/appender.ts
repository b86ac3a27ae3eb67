/**
 * An append-only Merkle tree builder in O(log n) memory that emits C2SP
 * tlog-tiles tiles (https://c2sp.org/tlog-tiles) and entry bundles as the
 * tree grows. It keeps the right edge of the tree (one complete-subtree hash
 * per set bit of the size, RFC 9162 §2.1.1) and, per level, only the
 * current partial tile (at most 8 KiB), plus the current partial entry
 * bundle. Full tiles are handed out by `takeTiles` and forgotten.
 */
import { checkIndex, equalBytes } from './bytes.js';
import { MalformedError } from './errors.js';
import { HASH_SIZE, leafHash, nodeHash, type Hash } from './hash.js';
import { edgeIndexes, rootFromEdge } from './merkle.js';
import {
  ENTRIES_LEVEL,
  MAX_ENTRY_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  hashFromTile,
  parseEntryBundle,
  tileForStoredHash,
  type Tile,
} from './tile.js';

/**
 * The state of a {@link TreeAppender}, enough to continue appending after a
 * restart.
 *
 * - `size`: the number of leaves.
 * - `edge`: the hashes at `edgeIndexes(size)`: one complete subtree per set
 *   bit of `size`, largest (leftmost) first.
 * - `tiles`: level → the data of that level's current partial tile, for every
 *   level L whose partial tile is non-empty (`floor(size / 256^L) mod 256 > 0`),
 *   and nothing else; plus, under level -1, the current partial entry bundle
 *   (possibly empty) if and only if the appender records entries.
 *
 * The edge is redundant with the partial tiles (each edge hash lies in a
 * partial tile); the constructor checks that they agree.
 */
export interface AppenderState {
  size: number;
  edge: Hash[];
  tiles: Map<number, Uint8Array>;
}

/** A tile and its contents, as emitted by {@link TreeAppender.takeTiles}. */
export interface TileData {
  tile: Tile;
  data: Uint8Array;
}

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/** The current partial hash tile of one level. */
interface PartialTile {
  /** Capacity for a full tile; the first `width * 32` bytes are used. */
  buf: Uint8Array;
  width: number;
}

/** The current partial entry bundle, in its formatted form. */
interface PartialBundle {
  buf: Uint8Array;
  length: number;
  count: number;
}

function partialWidth(size: number, level: number): number {
  return Math.floor(size / 2 ** (TILE_HEIGHT * level)) % TILE_WIDTH;
}

function checkHash(name: string, h: unknown): asserts h is Hash {
  if (!(h instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
  if (h.length !== HASH_SIZE) throw new RangeError(`${name}: expected ${HASH_SIZE} bytes`);
}

/**
 * Computes the edge of a tree of `size` leaves from its partial tiles
 * (level → data), each edge hash being recomputed from the partial tile that
 * holds its row. Throws MalformedError if a needed tile is missing or of the
 * wrong length.
 */
function edgeFromTiles(size: number, tiles: ReadonlyMap<number, Uint8Array>): Hash[] {
  return edgeIndexes(size).map((storedIndex) => {
    const tile = tileForStoredHash(storedIndex, size);
    const data = tiles.get(tile.level);
    if (data === undefined)
      throw new MalformedError(`appender state: no partial tile at level ${tile.level}`);
    return hashFromTile(tile, data, storedIndex);
  });
}

/** Checks the `tiles` of a state against `size`; returns whether it records entries. */
function checkStateTiles(size: number, tiles: ReadonlyMap<number, Uint8Array>): boolean {
  if (!(tiles instanceof Map)) throw new TypeError('state.tiles: expected a Map');
  let expected = 0;
  for (let level = 0; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++) {
    const w = partialWidth(size, level);
    if (w === 0) continue;
    expected++;
    const data = tiles.get(level);
    if (!(data instanceof Uint8Array) || data.length !== w * HASH_SIZE) {
      throw new MalformedError(`appender state: level ${level} partial tile must be ${w} hashes`);
    }
  }
  const bundle = tiles.get(ENTRIES_LEVEL);
  if (bundle !== undefined) {
    if (!(bundle instanceof Uint8Array)) throw new TypeError('state.tiles: expected Uint8Array data');
    const w = size % TILE_WIDTH;
    if (w === 0 ? bundle.length !== 0 : parseEntryBundle(bundle, w).length !== w) {
      throw new MalformedError('appender state: partial entry bundle does not match the size');
    }
    expected++;
  }
  if (tiles.size !== expected) throw new MalformedError('appender state: unexpected tiles');
  return bundle !== undefined;
}

/**
 * Builds the state of an appender for a tree of `size` leaves from its
 * partial tiles — the partial tiles of `tilesForSize(size)` by level, and
 * under level -1 the partial bundle of `entryBundlesForSize(size)` (an empty
 * Uint8Array when `size` is a multiple of 256) if the log records entries —
 * computing the edge from them. Use it to restart a service from stored
 * tiles. The returned state shares no memory with `partialTiles`.
 *
 * Throws MalformedError if a partial tile is missing, extra, or of the wrong
 * length; TypeError/RangeError on a bad size.
 */
export function appenderStateFrom(
  size: number,
  partialTiles: ReadonlyMap<number, Uint8Array>,
): AppenderState {
  checkIndex('size', size);
  checkStateTiles(size, partialTiles);
  const tiles = new Map<number, Uint8Array>();
  for (const [level, data] of partialTiles) tiles.set(level, data.slice());
  return { size, edge: edgeFromTiles(size, tiles), tiles };
}

/**
 * Appends leaves to an RFC 9162 Merkle tree and emits its tiles.
 *
 * An appender either records entries ({@link TreeAppender.appendEntry}: leaf hash plus
 * entry bundles) or bare leaf hashes ({@link TreeAppender.appendLeafHash}: hash tiles
 * only); a new appender takes the mode of its first append.
 */
export class TreeAppender {
  #size: number;
  #edge: Hash[];
  /** levels[L]: the current partial tile of level L. */
  readonly #levels: PartialTile[] = [];
  #bundle: PartialBundle | null = null;
  /** Full tiles emitted since the last take. */
  #full: TileData[] = [];
  /** Levels (-1 for entries) whose partial tile changed since the last take. */
  readonly #dirty = new Set<number>();

  /**
   * A new empty tree, or one continuing from `state` (which is copied).
   *
   * Throws MalformedError if the state is inconsistent (edge of the wrong
   * length or not matching the partial tiles, tiles missing, extra or of the
   * wrong length, a malformed partial bundle); TypeError/RangeError on wrong
   * types or a bad size.
   */
  constructor(state?: AppenderState) {
    if (state === undefined) {
      this.#size = 0;
      this.#edge = [];
      return;
    }
    const size = checkIndex('state.size', state.size);
    if (!Array.isArray(state.edge)) throw new TypeError('state.edge: expected an array');
    for (const h of state.edge) checkHash('state.edge', h);
    const entries = checkStateTiles(size, state.tiles);
    const edge = edgeFromTiles(size, state.tiles);
    if (edge.length !== state.edge.length || !edge.every((h, i) => equalBytes(h, state.edge[i]!))) {
      throw new MalformedError('appender state: edge does not match the partial tiles');
    }
    this.#size = size;
    this.#edge = edge;
    for (const [level, data] of state.tiles) {
      if (level === ENTRIES_LEVEL) continue;
      const buf = new Uint8Array(FULL_TILE_BYTES);
      buf.set(data);
      this.#levels[level] = { buf, width: data.length / HASH_SIZE };
    }
    if (entries) {
      const data = state.tiles.get(ENTRIES_LEVEL)!;
      const buf = new Uint8Array(Math.max(1024, data.length * 2));
      buf.set(data);
      this.#bundle = { buf, length: data.length, count: size % TILE_WIDTH };
    }
  }

  /** The number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** The right edge (compact range): hashes of the maximal complete subtrees, left to right (copies). */
  edge(): Hash[] {
    return this.#edge.map((h) => h.slice());
  }

  /**
   * The RFC 9162 §2.1.1 Merkle Tree Hash of the current tree (SHA-256("") if
   * empty), folded from the edge: popcount(size) - 1 hashes.
   */
  root(): Hash {
    return rootFromEdge(this.#edge);
  }

  /**
   * Appends an entry: records it in the current entry bundle and appends its
   * leaf hash SHA-256(0x00 || entry) (RFC 9162 §2.1.1). The entry is copied.
   * Returns its index and leaf hash.
   *
   * `knownLeafHash`, if given, must be leafHash(entry) (the caller computed it
   * already, e.g. to deduplicate); it is not recomputed.
   *
   * Throws TypeError if `entry` is not a Uint8Array; RangeError if it is
   * longer than 65,535 bytes (the bundle's uint16 length prefix); Error if
   * this appender has been appending bare leaf hashes.
   */
  appendEntry(entry: Uint8Array, knownLeafHash?: Hash): { index: number; leafHash: Hash } {
    if (!(entry instanceof Uint8Array)) throw new TypeError('entry: expected a Uint8Array');
    if (entry.length > MAX_ENTRY_SIZE) throw new RangeError(`entry: longer than ${MAX_ENTRY_SIZE} bytes`);
    if (this.#bundle === null) {
      if (this.#size !== 0) throw new Error('appendEntry: this appender records bare leaf hashes');
      this.#bundle = { buf: new Uint8Array(1024), length: 0, count: 0 };
    }
    const b = this.#bundle;
    const need = b.length + 2 + entry.length;
    if (need > b.buf.length) {
      const buf = new Uint8Array(Math.max(need, b.buf.length * 2));
      buf.set(b.buf.subarray(0, b.length));
      b.buf = buf;
    }
    // Entry bundles: big-endian uint16 length-prefixed entries (C2SP tlog-tiles "Log entries").
    b.buf[b.length] = entry.length >>> 8;
    b.buf[b.length + 1] = entry.length & 0xff;
    b.buf.set(entry, b.length + 2);
    b.length = need;
    b.count++;
    this.#dirty.add(ENTRIES_LEVEL);
    const index = this.#size;
    if (b.count === TILE_WIDTH) {
      const tile = { level: ENTRIES_LEVEL, index: Math.floor(index / TILE_WIDTH), width: TILE_WIDTH };
      this.#full.push({ tile, data: b.buf.slice(0, b.length) });
      this.#bundle = { buf: new Uint8Array(Math.min(b.buf.length, 1 << 20)), length: 0, count: 0 };
    }
    const h = knownLeafHash ? knownLeafHash.slice() : leafHash(entry);
    this.#push(h);
    return { index, leafHash: h.slice() };
  }

  /**
   * Appends a leaf hash (copied), for a log that stores no entries; returns
   * its index. Throws TypeError/RangeError if it is not 32 bytes; Error if
   * this appender records entries.
   */
  appendLeafHash(h: Hash): number {
    checkHash('leafHash', h);
    if (this.#bundle !== null)
      throw new Error('appendLeafHash: this appender records entries; use appendEntry');
    const index = this.#size;
    this.#push(h.slice());
    return index;
  }

  /** Appends an owned leaf hash: updates the edge and the tiles. */
  #push(h: Hash): void {
    const index = this.#size;
    this.#addToTile(0, index, h);
    // Each trailing 1 bit of index completes a subtree with the edge hash to
    // its left: HASH(0x01 || left || right), RFC 9162 §2.1.1.
    let n = index;
    let level = 0;
    while (n % 2 === 1) {
      h = nodeHash(this.#edge.pop()!, h);
      level++;
      n = (n - 1) / 2;
      // Tile rows are the hashes at levels 8L (C2SP tlog-tiles "Merkle Tree").
      if (level % TILE_HEIGHT === 0) this.#addToTile(level / TILE_HEIGHT, n, h);
    }
    this.#edge.push(h);
    this.#size = index + 1;
  }

  /** Adds the n-th hash of tile row `level`. */
  #addToTile(level: number, n: number, h: Hash): void {
    let t = this.#levels[level];
    if (t === undefined) {
      t = { buf: new Uint8Array(FULL_TILE_BYTES), width: 0 };
      this.#levels[level] = t;
    }
    t.buf.set(h, t.width * HASH_SIZE);
    t.width++;
    this.#dirty.add(level);
    if (t.width === TILE_WIDTH) {
      this.#full.push({ tile: { level, index: Math.floor(n / TILE_WIDTH), width: TILE_WIDTH }, data: t.buf });
      this.#levels[level] = { buf: new Uint8Array(FULL_TILE_BYTES), width: 0 };
    }
  }

  /**
   * Every tile that changed since the previous call (or since construction):
   * full tiles completed since then, and the current partial tile of each
   * level that changed, at its current width — hash tiles at every level and,
   * if the appender records entries, entry bundles. Ordered by level (entry
   * bundles first), then index. The caller owns the returned data; full
   * tiles are dropped from memory.
   */
  takeTiles(): TileData[] {
    const out = this.#full;
    this.#full = [];
    for (const level of this.#dirty) {
      if (level === ENTRIES_LEVEL) {
        const b = this.#bundle!;
        if (b.count === 0) continue;
        const tile = { level, index: Math.floor(this.#size / TILE_WIDTH), width: b.count };
        out.push({ tile, data: b.buf.slice(0, b.length) });
      } else {
        const t = this.#levels[level]!;
        if (t.width === 0) continue;
        const tile = {
          level,
          index: Math.floor(this.#size / 2 ** (TILE_HEIGHT * (level + 1))),
          width: t.width,
        };
        out.push({ tile, data: t.buf.slice(0, t.width * HASH_SIZE) });
      }
    }
    this.#dirty.clear();
    return out.sort((a, b) => a.tile.level - b.tile.level || a.tile.index - b.tile.index);
  }

  /**
   * A snapshot (copies) of the state, from which `new TreeAppender(state)`
   * continues identically. Full tiles not yet taken are not part of the
   * state: call {@link TreeAppender.takeTiles} and store its tiles before persisting a
   * state, or they are lost.
   */
  state(): AppenderState {
    const tiles = new Map<number, Uint8Array>();
    if (this.#bundle !== null) tiles.set(ENTRIES_LEVEL, this.#bundle.buf.slice(0, this.#bundle.length));
    this.#levels.forEach((t, level) => {
      if (t.width > 0) tiles.set(level, t.buf.slice(0, t.width * HASH_SIZE));
    });
    return { size: this.#size, edge: this.#edge.map((h) => h.slice()), tiles };
  }
}
