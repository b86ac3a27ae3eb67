/**
 * Tiles and entry bundles of C2SP tlog-tiles (https://c2sp.org/tlog-tiles),
 * height 8: a tile at level L holds up to 256 consecutive Merkle Tree Hashes
 * of subtrees of 256^L leaves; an entry bundle holds up to 256 entries.
 * Reading stored hashes out of tiles follows golang.org/x/mod/sumdb/tlog
 * (TileForIndex, HashFromTile).
 */
import { checkIndex } from './bytes.js';
import { MalformedError, OutOfRangeError } from './errors.js';
import { HASH_SIZE, nodeHash, type Hash } from './hash.js';
import {
  edgeIndexes,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  type HashReader,
} from './merkle.js';

/** Levels of the Merkle tree per tile: tiles are 256 hashes wide. */
export const TILE_HEIGHT = 8;

/** Hashes in a full tile, entries in a full bundle: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;

/** The `level` of an entry bundle (`tile/entries/...`). */
export const ENTRIES_LEVEL = -1;

/** Highest tile level a path may carry (C2SP tlog-tiles: 0 to 63). */
const MAX_LEVEL = 63;

/** Largest entry an entry bundle can hold: a uint16 length prefix. */
export const MAX_ENTRY_SIZE = 65535;

/**
 * A tile or entry bundle. `level` is the tile level (0 = leaf hashes), or -1
 * ({@link ENTRIES_LEVEL}) for an entry bundle; `index` is the tile's number
 * within its level; `width` is the number of hashes or entries, 1 to 256,
 * and 256 means a full tile.
 */
export interface Tile {
  level: number;
  index: number;
  width: number;
}

/** Checks a tile's fields; TypeError for a non-number, RangeError for a bad value. */
function checkTile(tile: Tile): void {
  if (typeof tile !== 'object' || tile === null) throw new TypeError('tile: expected an object');
  const { level, width } = tile;
  if (typeof level !== 'number') throw new TypeError('tile.level: expected a number');
  if (!Number.isInteger(level) || level < ENTRIES_LEVEL || level > MAX_LEVEL) {
    throw new RangeError(`tile.level: expected -1 to ${MAX_LEVEL}`);
  }
  checkIndex('tile.index', tile.index);
  if (typeof width !== 'number') throw new TypeError('tile.width: expected a number');
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new RangeError(`tile.width: expected 1 to ${TILE_WIDTH}`);
  }
}

/**
 * The first `width` entries of an entry bundle, as bundle bytes (a prefix
 * of `data`): what the partial bundle of `width` entries holds when only a
 * wider one is at hand (a log may drop partial tiles once the full one
 * exists, C2SP/C2SP#145).
 *
 * Throws MalformedError if `data` does not start with `width` whole entries;
 * RangeError if `width` is not 1 to 256.
 */
export function entryBundlePrefix(data: Uint8Array, width: number): Uint8Array {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw new RangeError('width: expected 1 to 256');
  let o = 0;
  for (let n = 0; n < width; n++) {
    if (o + 2 > data.length) throw new MalformedError(`entry bundle: fewer than ${width} entries`);
    o += 2 + ((data[o]! << 8) | data[o + 1]!);
    if (o > data.length) throw new MalformedError(`entry bundle: fewer than ${width} entries`);
  }
  return data.subarray(0, o);
}

/** 256^level as a number (exact for the levels that fit a safe-integer tree). */
function span(level: number): number {
  return 2 ** (TILE_HEIGHT * level);
}

// ---- Paths. ----

/**
 * The tile's path, `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, with
 * N written in 3-digit groups, `x` before all but the last (C2SP tlog-tiles
 * "Merkle Tree"): e.g. `tile/0/x001/x234/067`, `tile/entries/273.p/112`. No
 * leading slash: it is relative to the log's URL prefix.
 *
 * Throws TypeError/RangeError for an invalid tile.
 */
export function tilePath(tile: Tile): string {
  checkTile(tile);
  const digits = String(tile.index);
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < padded.length; i += 3) groups.push(padded.slice(i, i + 3));
  const n = groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
  const level = tile.level === ENTRIES_LEVEL ? 'entries' : String(tile.level);
  // `.p/<W>` only for partial tiles, W from 1 to 255 (C2SP tlog-tiles "Partial Tiles").
  const partial = tile.width < TILE_WIDTH ? `.p/${tile.width}` : '';
  return `tile/${level}/${n}${partial}`;
}

const PATH_RE =
  /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/){0,5})([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * Parses a path produced by {@link tilePath}, strictly: exactly the canonical
 * form, so `parseTilePath(p)` round-trips through `tilePath`. Rejected with
 * MalformedError: a leading slash or any extra slash, a level outside 0..63
 * or with leading zeros, groups that are not 3 digits or lack the `x`, a
 * leading `x000` group, an index beyond safe integers, and a width after
 * `.p/` that is 0, has leading zeros, or is 256 or more.
 *
 * Throws TypeError if `path` is not a string.
 */
export function parseTilePath(path: string): Tile {
  if (typeof path !== 'string') throw new TypeError('path: expected a string');
  const m = PATH_RE.exec(path);
  if (m === null) throw new MalformedError('malformed tile path');
  const [, levelText, xGroups, lastGroup, widthText] = m;
  const level = levelText === 'entries' ? ENTRIES_LEVEL : Number(levelText);
  if (level > MAX_LEVEL) throw new MalformedError('malformed tile path: level');
  const groups = xGroups!.split('/').filter((g) => g !== '');
  if (groups.length > 0 && groups[0] === 'x000')
    throw new MalformedError('malformed tile path: leading zero group');
  const index = Number(groups.map((g) => g.slice(1)).join('') + lastGroup!);
  if (!Number.isSafeInteger(index)) throw new MalformedError('malformed tile path: index');
  let width = TILE_WIDTH;
  if (widthText !== undefined) {
    width = Number(widthText);
    if (width >= TILE_WIDTH) throw new MalformedError('malformed tile path: width');
  }
  return { level, index, width };
}

// ---- Tiles of a tree. ----

function tilesOf(level: number, count: number, fromCount: number, out: Tile[]): void {
  // Full tiles that are new since fromCount, then the partial tile if any.
  // The partial tile at level l for size s has floor(s / 256^l) mod 256
  // entries (C2SP tlog-tiles "Partial Tiles").
  if (count === fromCount) return;
  const full = Math.floor(count / TILE_WIDTH);
  for (let n = Math.floor(fromCount / TILE_WIDTH); n < full; n++)
    out.push({ level, index: n, width: TILE_WIDTH });
  const w = count % TILE_WIDTH;
  if (w > 0) out.push({ level, index: full, width: w });
}

function checkSizes(size: number, fromSize: number): void {
  checkIndex('size', size);
  checkIndex('fromSize', fromSize);
  if (fromSize > size) throw new RangeError('fromSize: greater than size');
}

/**
 * The hash tiles of a tree of `size` leaves, at every level, full and
 * partial, in order of level then index (Go tlog's NewTiles). With
 * `fromSize`, only the tiles that are new or wider than in the tree of
 * `fromSize` leaves (what a mirror must fetch to catch up). Size 0 has no
 * tiles.
 *
 * Throws TypeError/RangeError on a bad size or if `fromSize > size`.
 */
export function tilesForSize(size: number, fromSize = 0): Tile[] {
  checkSizes(size, fromSize);
  const out: Tile[] = [];
  for (let level = 0; Math.floor(size / span(level)) > 0; level++) {
    tilesOf(level, Math.floor(size / span(level)), Math.floor(fromSize / span(level)), out);
  }
  return out;
}

/**
 * The entry bundles of a log of `size` entries, full then partial; with
 * `fromSize`, only those new or wider than at `fromSize`. Throws
 * TypeError/RangeError on a bad size or if `fromSize > size`.
 */
export function entryBundlesForSize(size: number, fromSize = 0): Tile[] {
  checkSizes(size, fromSize);
  const out: Tile[] = [];
  tilesOf(ENTRIES_LEVEL, size, fromSize, out);
  return out;
}

// ---- Hashes from tiles. ----

/**
 * The tile that holds, or lets one recompute, the stored hash at
 * `storedIndex` in a tree of `size` leaves, at the width it has at that
 * size (the tile a client reads for that tree: full, or partial if it is the
 * rightmost). Hashes at levels 8L are read from a tile at level L directly;
 * those at 8L+1 .. 8L+7 are recomputed from that tile's row (Go tlog's
 * tileForIndex, with the width the tree has).
 *
 * Throws OutOfRangeError if the hash is not in the tree of `size`
 * (`storedIndex >= storedHashCount(size)`), TypeError/RangeError on a bad number.
 */
export function tileForStoredHash(storedIndex: number, size: number): Tile {
  checkIndex('storedIndex', storedIndex);
  if (storedIndex >= storedHashCount(size)) {
    throw new OutOfRangeError(`stored hash ${storedIndex} is not in a tree of size ${size}`);
  }
  const [hashLevel, n] = splitStoredHashIndex(storedIndex);
  const level = Math.floor(hashLevel / TILE_HEIGHT);
  const r = hashLevel - level * TILE_HEIGHT;
  // The hash covers hashes [n·2^r, (n+1)·2^r) of the tile row at level 8·level.
  const index = Math.floor((n * 2 ** r) / TILE_WIDTH);
  return { level, index, width: widthAtSize(level, index, size) };
}

/**
 * The width of tile (`level`, `index`) — of entry bundle `index` for level
 * -1 — in the tree of `size` leaves: 256 if it is full, 1 to 255 if it is
 * that level's partial tile, 0 if it does not exist yet. Level L holds
 * floor(size / 256^L) hashes; a bundle level holds `size` entries (C2SP
 * tlog-tiles "Partial Tiles").
 *
 * Throws TypeError/RangeError on a bad level, index or size.
 */
export function widthAtSize(level: number, index: number, size: number): number {
  checkTile({ level, index, width: 1 });
  checkIndex('size', size);
  const count = level === ENTRIES_LEVEL ? size : Math.floor(size / span(level));
  return Math.max(0, Math.min(TILE_WIDTH, count - index * TILE_WIDTH));
}

/**
 * The tiles that hold the right edge of a tree of `size` leaves (the hashes
 * at `edgeIndexes(size)`, which `treeHash(size, …)` reads through a
 * {@link UnverifiedTileHashReader}), at their width at `size`, top level first. They
 * are exactly the partial tiles of `tilesForSize(size)`: the edge splits each
 * level's partial tile into aligned power-of-two runs (one per set bit of its
 * width), so every hash of every partial tile enters the root, and no full
 * tile is read. Empty for size 0.
 *
 * Throws TypeError/RangeError on a bad size.
 */
export function edgeTiles(size: number): Tile[] {
  const out: Tile[] = [];
  for (const storedIndex of edgeIndexes(size)) {
    const t = tileForStoredHash(storedIndex, size);
    if (!out.some((o) => o.level === t.level && o.index === t.index)) out.push(t);
  }
  return out;
}

/**
 * The tile one level up that holds the hash of the full hash tile `tile`
 * (level L, index N) in the tree of `size` leaves, at its width at that
 * size, and the position of that hash in it: tile (L+1, floor(N/256)),
 * position N mod 256. A full tile's 256 hashes at level 8L are the leaves of
 * one complete subtree whose root is the stored hash (8(L+1), N), and tile
 * rows are the hashes at levels 8L (C2SP tlog-tiles "Merkle Tree"; Go
 * tlog's stored-hash layout, see {@link tileForStoredHash}).
 *
 * Throws RangeError if `tile` is an entry bundle or not full; OutOfRangeError
 * if it is not in the tree of `size`; TypeError/RangeError on a bad tile or size.
 */
export function parentTile(tile: Tile, size: number): { tile: Tile; position: number } {
  checkTile(tile);
  if (tile.level === ENTRIES_LEVEL || tile.width !== TILE_WIDTH) {
    throw new RangeError(`parentTile: ${tilePath(tile)} is not a full hash tile`);
  }
  const parent = tileForStoredHash(storedHashIndex(TILE_HEIGHT * (tile.level + 1), tile.index), size);
  return { tile: parent, position: tile.index % TILE_WIDTH };
}

/**
 * The Merkle Tree Hash (RFC 9162 §2.1.1) of the 256 hashes of a full hash
 * tile: the root of the subtree the tile spans, which is the hash at its
 * position in its {@link parentTile} (Go tlog's tileHash over a whole tile).
 *
 * Throws TypeError if `data` is not a Uint8Array; MalformedError unless it
 * is exactly 256 × 32 bytes.
 */
export function tileRoot(data: Uint8Array): Hash {
  if (!(data instanceof Uint8Array)) throw new TypeError('data: expected a Uint8Array');
  if (data.length !== TILE_WIDTH * HASH_SIZE) {
    throw new MalformedError(`full tile: ${data.length} bytes, expected ${TILE_WIDTH * HASH_SIZE}`);
  }
  return hashRow(data, 0, TILE_WIDTH);
}

/** MTH of a power-of-two run of hashes in tile data (Go tlog's tileHash). */
function hashRow(data: Uint8Array, start: number, count: number): Hash {
  if (count === 1) return data.slice(start * HASH_SIZE, (start + 1) * HASH_SIZE); // a copy: callers keep it
  let row: Hash[] = [];
  // Views, not copies: nodeHash copies its inputs into its own buffer.
  for (let i = 0; i < count; i++)
    row.push(data.subarray((start + i) * HASH_SIZE, (start + i + 1) * HASH_SIZE));
  while (row.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i]!, row[i + 1]!)); // RFC 9162 §2.1.1
    row = next;
  }
  return row[0]!;
}

/**
 * The stored hash at `storedIndex`, read from `data`, the contents of `tile`
 * (a hash tile). A hash at level 8L+r with r > 0 is recomputed from the 2^r
 * hashes of the tile's row below it (C2SP tlog-tiles: the levels between
 * tile rows "are reconstructed by hashing the leaves"; Go's HashFromTile).
 *
 * `memo`, one per tile's data, shares that work between calls: a hash
 * inside the tile computed for one stored hash is not computed again for
 * another (the proofs of a batch of neighbouring leaves ask for most of a
 * tile's levels; without it each costs 2^r hashes of its own).
 *
 * Throws MalformedError if `data` is not exactly `tile.width * 32` bytes;
 * RangeError if `tile` is an entry bundle or does not contain the hash at its
 * width; TypeError/RangeError for an invalid tile or index.
 */
export function hashFromTile(
  tile: Tile,
  data: Uint8Array,
  storedIndex: number,
  memo?: Map<number, Hash>,
): Hash {
  checkTile(tile);
  if (tile.level === ENTRIES_LEVEL) throw new RangeError('hashFromTile: an entry bundle holds no hashes');
  if (!(data instanceof Uint8Array)) throw new TypeError('data: expected a Uint8Array');
  if (data.length !== tile.width * HASH_SIZE) {
    throw new MalformedError(
      `tile ${tilePath(tile)}: ${data.length} bytes, expected ${tile.width * HASH_SIZE}`,
    );
  }
  const [hashLevel, n] = splitStoredHashIndex(storedIndex);
  const r = hashLevel - tile.level * TILE_HEIGHT;
  const count = 2 ** r;
  const start = n * count - tile.index * TILE_WIDTH;
  if (r < 0 || r >= TILE_HEIGHT || start < 0 || start + count > tile.width) {
    throw new RangeError(`stored hash ${storedIndex} is not in tile ${tilePath(tile)}`);
  }
  if (memo === undefined || r === 0) return hashRow(data, start, count);
  return tileNode(data, r, start / count, memo);
}

/** The hash at height r, position j, of the tree over a tile's row (r > 0), memoised by (r, j). */
function tileNode(data: Uint8Array, r: number, j: number, memo: Map<number, Hash>): Hash {
  const key = r * TILE_WIDTH + j;
  let h = memo.get(key);
  if (h === undefined) {
    const left =
      r === 1
        ? data.subarray(2 * j * HASH_SIZE, (2 * j + 1) * HASH_SIZE)
        : tileNode(data, r - 1, 2 * j, memo);
    const right =
      r === 1
        ? data.subarray((2 * j + 1) * HASH_SIZE, (2 * j + 2) * HASH_SIZE)
        : tileNode(data, r - 1, 2 * j + 1, memo);
    h = nodeHash(left, right); // RFC 9162 §2.1.1
    memo.set(key, h);
  }
  return h;
}

/**
 * Reads tile contents, in the order asked: one Uint8Array per tile, of
 * `tile.width * 32` bytes. Synchronous (a service reads through a cache or
 * a synchronous store); throws if a tile is unavailable.
 */
export type ReadTiles = (tiles: Tile[]) => Uint8Array[];

/**
 * A {@link HashReader} over the tiles of a tree of `size` leaves: each
 * `readHashes` call makes one `readTiles` call for the distinct tiles it
 * needs (none for an empty request), at their width at `size`.
 *
 * It does not authenticate the tiles against a root: use it over trusted
 * storage (a sequencer's own tiles), or verify what it yields — a proof
 * built from it verified against a signed root is authentic. To read a tree
 * from a source that is not trusted, use the authenticated
 * {@link TileHashReader} (tile-auth.ts), Go tlog's contract.
 */
export class UnverifiedTileHashReader implements HashReader {
  readonly #size: number;
  readonly #readTiles: ReadTiles;

  /** Throws TypeError/RangeError on a bad size or a non-function `readTiles`. */
  constructor(size: number, readTiles: ReadTiles) {
    checkIndex('size', size);
    if (typeof readTiles !== 'function') throw new TypeError('readTiles: expected a function');
    this.#size = size;
    this.#readTiles = readTiles;
  }

  /** The tree size this reader reads. */
  get size(): number {
    return this.#size;
  }

  /**
   * See {@link HashReader}. Throws OutOfRangeError for an index not in the
   * tree of this size; MalformedError if `readTiles` returns the wrong number
   * of tiles or a tile of the wrong length; whatever `readTiles` throws.
   */
  readHashes(indexes: readonly number[]): Hash[] {
    const tiles: Tile[] = [];
    const byPath = new Map<string, number>();
    const which = indexes.map((storedIndex) => {
      const tile = tileForStoredHash(storedIndex, this.#size);
      const path = tilePath(tile);
      let i = byPath.get(path);
      if (i === undefined) {
        i = tiles.length;
        byPath.set(path, i);
        tiles.push(tile);
      }
      return i;
    });
    if (tiles.length === 0) return [];
    const data = this.#readTiles(tiles);
    if (!Array.isArray(data) || data.length !== tiles.length) {
      throw new MalformedError(`readTiles returned ${data?.length} tiles for ${tiles.length}`);
    }
    const memos = tiles.map(() => new Map<number, Hash>());
    return indexes.map((storedIndex, k) =>
      hashFromTile(tiles[which[k]!]!, data[which[k]!]!, storedIndex, memos[which[k]!]),
    );
  }
}

// ---- Entry bundles. ----

/**
 * Formats an entry bundle: each entry as a big-endian uint16 length then its
 * bytes (C2SP tlog-tiles "Log entries"). Takes 0 to 256 entries.
 *
 * Throws TypeError if an entry is not a Uint8Array; RangeError if an entry
 * is longer than 65,535 bytes or there are more than 256 entries.
 */
export function formatEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(entries)) throw new TypeError('entries: expected an array');
  if (entries.length > TILE_WIDTH) throw new RangeError(`entries: more than ${TILE_WIDTH}`);
  let length = 0;
  for (const e of entries) {
    if (!(e instanceof Uint8Array)) throw new TypeError('entry: expected a Uint8Array');
    if (e.length > MAX_ENTRY_SIZE) throw new RangeError(`entry: longer than ${MAX_ENTRY_SIZE} bytes`);
    length += 2 + e.length;
  }
  const out = new Uint8Array(length);
  let o = 0;
  for (const e of entries) {
    out[o] = e.length >>> 8;
    out[o + 1] = e.length & 0xff;
    out.set(e, o + 2);
    o += 2 + e.length;
  }
  return out;
}

/**
 * Parses an entry bundle into its entries (copies). With `width`, the bundle
 * must hold exactly `width` entries; without, any number up to 256.
 *
 * Throws MalformedError on a truncated entry, bytes after the last entry,
 * more than 256 entries, or a count other than `width`; TypeError if `data`
 * is not a Uint8Array; RangeError if `width` is not 1 to 256.
 */
export function parseEntryBundle(data: Uint8Array, width?: number): Uint8Array[] {
  if (!(data instanceof Uint8Array)) throw new TypeError('data: expected a Uint8Array');
  if (width !== undefined) {
    if (typeof width !== 'number') throw new TypeError('width: expected a number');
    if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
      throw new RangeError('width: expected 1 to 256');
  }
  const max = width ?? TILE_WIDTH;
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < data.length) {
    if (out.length === max) throw new MalformedError('entry bundle: trailing bytes');
    if (o + 2 > data.length) throw new MalformedError('entry bundle: truncated length');
    const n = (data[o]! << 8) | data[o + 1]!;
    if (o + 2 + n > data.length) throw new MalformedError('entry bundle: truncated entry');
    out.push(data.slice(o + 2, o + 2 + n));
    o += 2 + n;
  }
  if (width !== undefined && out.length !== width) {
    throw new MalformedError(`entry bundle: ${out.length} entries, expected ${width}`);
  }
  return out;
}
