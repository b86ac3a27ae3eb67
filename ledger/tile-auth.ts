/**
 * Authenticated reading of a log's tiles (C2SP tlog-tiles) against a signed
 * tree head, from a source that is not trusted: a mirror, a CDN, a static
 * copy, a cache, or one's own disk. Pure and synchronous, in the way of Go
 * tlog's TileHashReader: compute which tiles are needed, let the caller
 * read them in one batch (its I/O), authenticate parents before children,
 * then read.
 *
 * What makes a tile authentic in the tree of `size` leaves with root `root`:
 * - the partial tiles at `size` (the {@link edgeTiles}) iff the tree hash
 *   recomputed from them is `root` (every hash of every partial tile enters
 *   it);
 * - a full hash tile iff its {@link tileRoot} is the hash at its position in
 *   its {@link parentTile}, itself authentic (up to an edge tile);
 * - an entry bundle iff the leaf hashes of its `width` entries are the
 *   hashes of the authentic level-0 tile of the same index (for a full
 *   bundle whose level-0 tile is not read anyway: iff those leaf hashes,
 *   being that tile, are authentic against its parent — one tile fewer).
 * A tile asked for at a width narrower than it has at `size` is authentic
 * iff the tile at that width is (it is a prefix of it).
 *
 * Data a source returns may be wider than asked (a newer partial tile, or
 * the full tile for a partial one that is gone, C2SP/C2SP#145): its prefix
 * is what is checked and returned. Anything else — short, malformed, wrong
 * bytes — is a TileAuthError naming the tile.
 */
import { equalBytes } from './bytes.js';
import { UrnaError } from './errors.js';
import { HASH_SIZE, leafHash, type Hash } from './hash.js';
import { treeHash, type HashReader, type TreeHead } from './merkle.js';
import {
  edgeTiles,
  entryBundlePrefix,
  ENTRIES_LEVEL,
  hashFromTile,
  parentTile,
  tileForStoredHash,
  tilePath,
  tileRoot,
  TILE_WIDTH,
  UnverifiedTileHashReader,
  widthAtSize,
  type Tile,
} from './tile.js';
import { checkIndex } from './bytes.js';

/** Tile data that does not authenticate against the signed tree: `tile` names the one that did not. */
export class TileAuthError extends UrnaError {
  constructor(
    readonly tile: Tile,
    readonly head: TreeHead,
    why: string,
  ) {
    super('not_authentic', `${tilePath(tile)} does not match the tree of size ${head.size}: ${why}`);
  }
}

/** A key for maps of tiles (level and index; the width is the tree's). */
export function tileKey(tile: Pick<Tile, 'level' | 'index'>): string {
  return `${tile.level}/${tile.index}`;
}

/**
 * Tiles already authenticated (a cache of a reader): `known(tile)` gives the
 * authentic data of `tile` at exactly `tile.width`, or undefined. A full
 * tile, once authentic, is authentic in every later tree of a log that does
 * not fork; a partial one is authentic at the width it was checked at.
 */
export type KnownTiles = (tile: Tile) => Uint8Array | undefined;

const none: KnownTiles = () => undefined;

/** `tile` at the width it has in the tree of `size`. Throws RangeError if it is not in it. */
function atSize(tile: Tile, size: number): Tile {
  const width = widthAtSize(tile.level, tile.index, size);
  if (tile.width > width) throw new RangeError(`${tilePath(tile)} is not in the tree of size ${size}`);
  return { level: tile.level, index: tile.index, width };
}

/** The hash tile a bundle is checked against: the level-0 tile of its index. */
function hashTileOf(tile: Tile): Tile {
  return tile.level === ENTRIES_LEVEL ? { level: 0, index: tile.index, width: tile.width } : tile;
}

/**
 * The tiles that authenticating `tiles` in the tree of `size` reads, at
 * their width at `size`, each once, parents before children: the edge
 * tiles, then for each tile its chain of parents up to an edge tile, the
 * tile itself, and for a bundle its level-0 tile. A chain stops at a tile
 * `known` already has. Throws RangeError if a tile is not in the tree.
 */
export function authenticationPlan(tiles: readonly Tile[], size: number, known: KnownTiles = none): Tile[] {
  checkIndex('size', size);
  const plan = new Map<string, Tile>();
  const edge = edgeTiles(size);
  const edgeKnown = edge.every((t) => known(t) !== undefined);
  if (!edgeKnown) for (const t of edge) plan.set(tileKey(t), t);
  const askedHashTiles = new Set(tiles.filter((t) => t.level !== ENTRIES_LEVEL).map(tileKey));
  for (const asked of tiles) {
    const tile = atSize(asked, size);
    const chain: Tile[] = [];
    let t = hashTileOf(tile);
    if (tile.level === ENTRIES_LEVEL) {
      if (known(tile)) continue;
      chain.push(tile);
      // A full bundle's leaf hashes are its level-0 tile: unless that tile is at hand anyway,
      // the bundle is checked against the level-0 tile's parent directly (one tile fewer to read).
      if (tile.width === TILE_WIDTH && !askedHashTiles.has(tileKey(t)) && !plan.has(tileKey(t)) && !known(t))
        t = parentTile(t, size).tile;
    }
    while (!plan.has(tileKey(t)) && known(t) === undefined) {
      chain.push(t);
      if (t.width < TILE_WIDTH) break; // an edge tile: authenticated by the root
      t = parentTile(t, size).tile;
    }
    for (const c of chain.reverse()) plan.set(tileKey(c), c);
  }
  // Parents first: higher levels, then bundles last (ENTRIES_LEVEL is below 0: they need their level-0 tile).
  return [...plan.values()].sort((a, b) => b.level - a.level);
}

/**
 * The first `width` hashes of hash tile data read for `tile`, or why not:
 * a whole number of hashes, at least `width`, at most a full tile.
 */
function hashesOf(tile: Tile, data: Uint8Array): Uint8Array | string {
  if (data.length % HASH_SIZE !== 0) return `${data.length} bytes is not a whole number of hashes`;
  if (data.length < tile.width * HASH_SIZE)
    return `${data.length / HASH_SIZE} hashes, expected at least ${tile.width}`;
  if (data.length > TILE_WIDTH * HASH_SIZE)
    return `${data.length / HASH_SIZE} hashes, more than a tile holds`;
  return data.subarray(0, tile.width * HASH_SIZE);
}

/**
 * The first `width` entries of bundle data read for `tile` (a prefix of its
 * bytes) and their leaf hashes, or why not: whole entries, at least
 * `width`; exactly 256 for a full bundle.
 */
function entriesOf(tile: Tile, data: Uint8Array): { bytes: Uint8Array; hashes: Hash[] } | string {
  const hashes: Hash[] = [];
  let o = 0;
  let end = 0;
  while (o < data.length) {
    if (o + 2 > data.length) return 'a truncated entry length';
    const n = (data[o]! << 8) | data[o + 1]!;
    if (o + 2 + n > data.length) return 'a truncated entry';
    if (hashes.length < tile.width) {
      hashes.push(leafHash(data.subarray(o + 2, o + 2 + n))); // RFC 9162 §2.1.1
      end = o + 2 + n;
    } else if (tile.width === TILE_WIDTH) return 'more than 256 entries';
    o += 2 + n;
    if (hashes.length === tile.width && tile.width < TILE_WIDTH) break; // later entries: a newer partial bundle
  }
  if (hashes.length < tile.width) return `${hashes.length} entries, expected ${tile.width}`;
  return { bytes: data.subarray(0, end), hashes };
}

/**
 * Authenticates tiles against `head` and returns, by {@link tileKey}, the
 * authentic data of every tile of `authenticationPlan(tiles, head.size,
 * known)` and of `tiles`, at their width at `head.size` (hash tiles
 * `width` × 32 bytes, bundles their first `width` entries; known tiles as
 * `known` gave them; {@link tileData} cuts a tile asked at a narrower
 * width). `read(tile)` gives the data read for a tile of the
 * plan (possibly wider than its width; undefined: not available).
 *
 * Throws TileAuthError naming the highest tile that does not authenticate
 * (for the edge, the first edge tile: the root says only that one of them
 * is wrong) or that is missing or malformed; RangeError if a tile is not in
 * the tree of `head.size`.
 */
export function authenticateTiles(
  head: TreeHead,
  tiles: readonly Tile[],
  read: (tile: Tile) => Uint8Array | undefined,
  known: KnownTiles = none,
): Map<string, Uint8Array> {
  const { size, root } = head;
  const out = new Map<string, Uint8Array>();
  const take = (tile: Tile): Uint8Array => {
    const k = known(tile);
    if (k !== undefined) return k;
    const data = read(tile);
    if (data === undefined) throw new TileAuthError(tile, head, 'not available');
    return data;
  };
  const hashTile = (tile: Tile): Uint8Array => {
    const h = hashesOf(tile, take(tile));
    if (typeof h === 'string') throw new TileAuthError(tile, head, h);
    return h;
  };
  // The edge: its hashes give the root.
  const edge = edgeTiles(size);
  const edgeData = edge.map(hashTile);
  if (!edge.every((t) => known(t) !== undefined)) {
    const byKey = new Map(edge.map((t, i) => [tileKey(t), edgeData[i]!]));
    const reader = new UnverifiedTileHashReader(size, (ts) => ts.map((t) => byKey.get(tileKey(t))!));
    if (!equalBytes(treeHash(size, reader), root))
      throw new TileAuthError(
        edge.find((t) => known(t) === undefined)!,
        head,
        `the edge tiles (${edge.map(tilePath).join(', ')}) do not hash to the signed root`,
      );
  }
  edge.forEach((t, i) => out.set(tileKey(t), edgeData[i]!));
  // Then every other tile of the plan, parents before children.
  for (const tile of authenticationPlan(tiles, size, known)) {
    const key = tileKey(tile);
    if (out.has(key)) continue;
    const k = known(tile);
    if (k !== undefined) {
      out.set(key, k);
      continue;
    }
    if (tile.level === ENTRIES_LEVEL) {
      const level0Tile = hashTileOf(tile);
      const level0 = out.get(tileKey(level0Tile)) ?? known(level0Tile);
      const e = entriesOf(tile, take(tile));
      if (typeof e === 'string') throw new TileAuthError(tile, head, e);
      if (level0) {
        e.hashes.forEach((h, i) => {
          if (!equalBytes(h, level0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)))
            throw new TileAuthError(tile, head, `entry ${i} does not hash to the leaf hash of tile/0`);
        });
      } else {
        // A full bundle without its level-0 tile: its leaf hashes are that tile, checked against its parent.
        const leaves = new Uint8Array(TILE_WIDTH * HASH_SIZE);
        e.hashes.forEach((h, i) => leaves.set(h, i * HASH_SIZE));
        const { tile: parent, position } = parentTile(level0Tile, size);
        const parentData = out.get(tileKey(parent)) ?? known(parent);
        if (
          !equalBytes(
            tileRoot(leaves),
            parentData!.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE),
          )
        )
          throw new TileAuthError(
            tile,
            head,
            `its entries do not hash to the hash at ${position} in ${tilePath(parent)}`,
          );
        out.set(tileKey(level0Tile), leaves);
      }
      out.set(key, e.bytes);
      continue;
    }
    // A full hash tile (partial ones are edge tiles): against its parent.
    const data = hashTile(tile);
    const { tile: parent, position } = parentTile(tile, size);
    const parentData = out.get(tileKey(parent)) ?? known(parent);
    const want = parentData!.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE);
    if (!equalBytes(tileRoot(data), want))
      throw new TileAuthError(
        tile,
        head,
        `its hashes do not hash to the hash at ${position} in ${tilePath(parent)}`,
      );
    out.set(key, data);
  }
  // Asked tiles the caller already knew (not in the plan).
  for (const t of tiles) {
    const tile = atSize(t, size);
    if (!out.has(tileKey(tile))) out.set(tileKey(tile), known(tile)!);
  }
  return out;
}

/**
 * The authentic data of `tile` at its own width, from what
 * authenticateTiles returned (at the width the tree has, of which a
 * narrower tile is a prefix): hash tiles `width` × 32 bytes, bundles their
 * first `width` entries.
 */
export function tileData(tile: Tile, authentic: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const data = authentic.get(tileKey(tile));
  if (data === undefined) throw new RangeError(`${tilePath(tile)} was not authenticated`);
  return tile.level === ENTRIES_LEVEL
    ? entryBundlePrefix(data, tile.width)
    : data.subarray(0, tile.width * HASH_SIZE);
}

/**
 * Reads tiles for a {@link TileHashReader}, in one batch per call.
 * Synchronous (a cache, a prefetched map); a tile it does not have it
 * leaves undefined (the reader then throws TileAuthError, or the caller's
 * readTiles throws to say "fetch these and try again").
 */
export interface TileReader {
  /** The data of each tile (at least its width), in the order asked. */
  readTiles(tiles: Tile[]): Array<Uint8Array | undefined>;
  /** Tiles already authenticated (see KnownTiles). */
  known?: KnownTiles;
  /** Told the tiles that authenticated, at their width, and their data (a cache keeps them). */
  saveTiles?(tiles: Tile[], data: Uint8Array[]): void;
}

/**
 * A {@link HashReader} over the tiles of the tree `head` that returns only
 * authenticated hashes (Go tlog's TileHashReader contract): each
 * `readHashes` plans the tiles the hashes come from with the tiles that
 * authenticate them, reads them in one `readTiles` call, authenticates
 * them (TileAuthError naming the tile that does not), tells `saveTiles`,
 * and reads the hashes from them.
 */
export class TileHashReader implements HashReader {
  readonly #head: TreeHead;
  readonly #reader: TileReader;

  /** Throws TypeError/RangeError on a bad head. */
  constructor(head: TreeHead, reader: TileReader) {
    checkIndex('head.size', head.size);
    if (!(head.root instanceof Uint8Array) || head.root.length !== HASH_SIZE)
      throw new TypeError('head.root: expected 32 bytes');
    this.#head = { size: head.size, root: head.root };
    this.#reader = reader;
  }

  get head(): TreeHead {
    return this.#head;
  }

  /**
   * See {@link HashReader}. Throws OutOfRangeError for an index not in the
   * tree; TileAuthError for a tile that is missing or does not authenticate;
   * whatever `readTiles` throws.
   */
  readHashes(indexes: readonly number[]): Hash[] {
    if (indexes.length === 0) return [];
    const { size } = this.#head;
    const tiles = new Map<string, Tile>();
    const tileOf = indexes.map((i) => {
      const t = tileForStoredHash(i, size);
      tiles.set(tileKey(t), t);
      return t;
    });
    const authentic = readAuthentic(this.#head, [...tiles.values()], this.#reader);
    const memos = new Map<string, Map<number, Hash>>();
    return indexes.map((i, k) => {
      const key = tileKey(tileOf[k]!);
      let memo = memos.get(key);
      if (memo === undefined) memos.set(key, (memo = new Map()));
      return hashFromTile(tileOf[k]!, authentic.get(key)!, i, memo);
    });
  }
}

/**
 * The authentic data of `tiles` (by tileKey, as authenticateTiles returns
 * it), read through `reader` in one batch and saved to it.
 */
export function readAuthentic(
  head: TreeHead,
  tiles: readonly Tile[],
  reader: TileReader,
): Map<string, Uint8Array> {
  const known = reader.known ?? none;
  const plan = authenticationPlan(tiles, head.size, known).filter((t) => known(t) === undefined);
  const data = plan.length ? reader.readTiles(plan) : [];
  const read = new Map(plan.map((t, i) => [tileKey(t), data[i]]));
  const authentic = authenticateTiles(head, tiles, (t) => read.get(tileKey(t)), known);
  if (reader.saveTiles && plan.length)
    reader.saveTiles(
      plan,
      plan.map((t) => authentic.get(tileKey(t))!),
    );
  return authentic;
}
