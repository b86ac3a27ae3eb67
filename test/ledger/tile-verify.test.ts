// The pure helpers for authenticating tiles against a signed tree: tileRoot
// (RFC 9162 §2.1.1 MTH of a full tile), parentTile, edgeTiles and
// widthAtSize, checked against a naive RFC 9162 transcription (written here
// on @noble/hashes, without ledger/hash.ts) and against the existing
// stored-hash layout (tileForStoredHash, hashFromTile, tilesForSize).
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { toHex } from '../../ledger/bytes.js';
import { MalformedError, OutOfRangeError } from '../../ledger/errors.js';
import { MemoryHashStore, storedHashIndex, treeHash } from '../../ledger/merkle.js';
import {
  ENTRIES_LEVEL,
  TILE_HEIGHT,
  TILE_WIDTH,
  UnverifiedTileHashReader,
  edgeTiles,
  entryBundlesForSize,
  hashFromTile,
  parentTile,
  tileForStoredHash,
  tilePath,
  tileRoot,
  tilesForSize,
  widthAtSize,
  type Tile,
} from '../../ledger/tile.js';

/** MTH(D[n]) over given leaf-level hashes, RFC 9162 §2.1.1, recursively (n a power of two here). */
function naiveMth(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 1) return hashes[0]!;
  const k = hashes.length / 2;
  return sha256(Uint8Array.of(0x01, ...naiveMth(hashes.slice(0, k)), ...naiveMth(hashes.slice(k))));
}

/** 256 distinct pseudo-random 32-byte hashes, as one tile's data. */
function fullTileData(seed: number): Uint8Array {
  const data = new Uint8Array(TILE_WIDTH * 32);
  for (let i = 0; i < TILE_WIDTH; i++) data.set(sha256(Uint8Array.of(seed, i)), i * 32);
  return data;
}

const hashesOf = (data: Uint8Array) =>
  Array.from({ length: data.length / 32 }, (_, i) => data.subarray(i * 32, (i + 1) * 32));

/** Sizes around every tile boundary of the first three levels, plus some others. */
const SIZES = [
  ...[1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 65792, 69888, 70000],
  ...[16777215, 16777216, 16777217, 16777216 + 65536 + 256 + 1],
  ...[2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, 2 ** 51 - 1], // stored-hash indexes (about 2 × size) must be safe integers
];

describe('tileRoot', () => {
  it('is the RFC 9162 MTH of the 256 hashes (naive and stored-hash treeHash)', () => {
    for (const seed of [0, 1, 2, 255]) {
      const data = fullTileData(seed);
      const store = new MemoryHashStore();
      for (const h of hashesOf(data)) store.append(h);
      const want = toHex(naiveMth(hashesOf(data)));
      expect(toHex(treeHash(TILE_WIDTH, store))).toBe(want);
      expect(toHex(tileRoot(data))).toBe(want);
    }
  });

  it('changes when any byte of the tile changes', () => {
    const data = fullTileData(7);
    const root = toHex(tileRoot(data));
    for (const at of [0, 31, 32, 4000, data.length - 1]) {
      const bad = data.slice();
      bad[at]! ^= 1;
      expect(toHex(tileRoot(bad))).not.toBe(root);
    }
  });

  it('throws MalformedError for anything but 256 × 32 bytes, TypeError for a non-Uint8Array', () => {
    for (const n of [0, 1, 32, 255 * 32, 256 * 32 - 1, 256 * 32 + 1, 257 * 32, 512 * 32]) {
      expect(() => tileRoot(new Uint8Array(n)), `${n} bytes`).toThrow(MalformedError);
    }
    expect(() => tileRoot([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('widthAtSize', () => {
  it('agrees with tilesForSize and entryBundlesForSize, and is 0 beyond the tree', () => {
    for (const size of [0, 1, 255, 256, 257, 65535, 65536, 65537, 70000]) {
      const tiles = [...tilesForSize(size), ...entryBundlesForSize(size)];
      for (const t of tiles) expect(widthAtSize(t.level, t.index, size), tilePath(t)).toBe(t.width);
      const levels = new Set(tiles.map((t) => t.level));
      for (const level of levels) {
        const next = Math.max(...tiles.filter((t) => t.level === level).map((t) => t.index)) + 1;
        expect(widthAtSize(level, next, size)).toBe(0);
      }
      expect(widthAtSize(levels.size, 0, size)).toBe(0); // the level above the top
    }
  });

  it('rejects bad levels, indexes and sizes', () => {
    expect(() => widthAtSize(-2, 0, 1)).toThrow(RangeError);
    expect(() => widthAtSize(64, 0, 1)).toThrow(RangeError);
    expect(() => widthAtSize(0, -1, 1)).toThrow(RangeError);
    expect(() => widthAtSize(0, 0, 1.5)).toThrow(RangeError);
  });
});

describe('parentTile', () => {
  /** The parent of full tile (L, N) at `size`, from the C2SP tlog-tiles definition directly. */
  function expected(tile: Tile, size: number) {
    const index = Math.floor(tile.index / TILE_WIDTH);
    const count = Math.floor(size / 2 ** (TILE_HEIGHT * (tile.level + 1)));
    const width = Math.min(TILE_WIDTH, count - index * TILE_WIDTH);
    return { tile: { level: tile.level + 1, index, width }, position: tile.index % TILE_WIDTH };
  }

  it('agrees with tileForStoredHash and the definition, and is one of the tiles of the tree', () => {
    for (let size = 256; size <= 70_000; size += size < 1100 ? 1 : 997) {
      const tiles = tilesForSize(size);
      const paths = new Set(tiles.map(tilePath));
      for (const t of tiles) {
        if (t.width !== TILE_WIDTH) continue;
        const got = parentTile(t, size);
        expect(got).toEqual(expected(t, size));
        const stored = storedHashIndex(TILE_HEIGHT * (t.level + 1), t.index);
        expect(got.tile).toEqual(tileForStoredHash(stored, size));
        expect(paths.has(tilePath(got.tile)), `${tilePath(t)} at ${size}`).toBe(true);
      }
    }
  });

  it('agrees with tileForStoredHash for large trees', () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 2 ** 51 }), fc.nat(), (size, r) => {
        // A random full tile of the tree: a level with at least one full tile, an index below its count.
        let top = 0;
        while (Math.floor(size / 2 ** (TILE_HEIGHT * (top + 1))) >= 1) top++;
        const level = r % top;
        const full = Math.floor(size / 2 ** (TILE_HEIGHT * (level + 1)));
        const tile = { level, index: (r * 7919) % full, width: TILE_WIDTH };
        const got = parentTile(tile, size);
        expect(got).toEqual(expected(tile, size));
        const stored = storedHashIndex(TILE_HEIGHT * (level + 1), tile.index);
        expect(got.tile).toEqual(tileForStoredHash(stored, size));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects bundles, partial tiles and tiles not in the tree', () => {
    expect(() => parentTile({ level: ENTRIES_LEVEL, index: 0, width: 256 }, 1000)).toThrow(RangeError);
    expect(() => parentTile({ level: 0, index: 0, width: 255 }, 1000)).toThrow(RangeError);
    expect(() => parentTile({ level: 0, index: 4, width: 256 }, 1000)).toThrow(OutOfRangeError);
    expect(() => parentTile({ level: 1, index: 0, width: 256 }, 65535)).toThrow(OutOfRangeError);
  });
});

describe('edgeTiles', () => {
  /** The tiles treeHash(size) reads through a UnverifiedTileHashReader. */
  function readByTreeHash(size: number): Tile[] {
    const read: Tile[] = [];
    const reader = new UnverifiedTileHashReader(size, (tiles) => {
      read.push(...tiles);
      return tiles.map((t) => new Uint8Array(t.width * 32));
    });
    treeHash(size, reader);
    return read;
  }

  it('are the partial tiles of tilesForSize, and exactly what treeHash reads', () => {
    const sizes = [...Array.from({ length: 1100 }, (_, i) => i), ...SIZES.filter((s) => s < 2 ** 25)];
    for (const size of sizes) {
      const want = tilesForSize(size).filter((t) => t.width < TILE_WIDTH);
      const sort = (ts: Tile[]) => ts.map(tilePath).sort();
      expect(sort(edgeTiles(size)), `size ${size}`).toEqual(sort(want));
      expect(sort(readByTreeHash(size))).toEqual(sort(want));
    }
  });

  it('for large trees: one partial tile per level whose width is not a multiple of 256', () => {
    for (const size of SIZES) {
      const want: string[] = [];
      for (let level = 0; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++) {
        const count = Math.floor(size / 2 ** (TILE_HEIGHT * level));
        if (count % TILE_WIDTH !== 0) {
          want.push(tilePath({ level, index: Math.floor(count / TILE_WIDTH), width: count % TILE_WIDTH }));
        }
      }
      expect(edgeTiles(size).map(tilePath).sort(), `size ${size}`).toEqual(want.sort());
    }
  });
});

describe('on a real tree of 70,000 leaves', () => {
  const SIZE = 70_000;
  const tiles = new Map<string, Uint8Array>();

  beforeAll(() => {
    const app = new TreeAppender();
    for (let i = 0; i < SIZE; i++) {
      const h = new Uint8Array(32);
      new DataView(h.buffer).setUint32(0, i);
      app.appendLeafHash(h);
      if (i % 5000 === 0 || i === SIZE - 1) {
        for (const { tile, data } of app.takeTiles()) tiles.set(tilePath(tile), data);
      }
    }
  });

  it("every full tile's root is the hash at its position in its parent (hashFromTile)", () => {
    for (const t of tilesForSize(SIZE)) {
      if (t.width !== TILE_WIDTH) continue;
      const { tile: parent, position } = parentTile(t, SIZE);
      const parentData = tiles.get(tilePath(parent))!;
      const root = toHex(tileRoot(tiles.get(tilePath(t))!));
      expect(toHex(parentData.subarray(position * 32, (position + 1) * 32))).toBe(root);
      const stored = storedHashIndex(TILE_HEIGHT * (t.level + 1), t.index);
      expect(toHex(hashFromTile(parent, parentData, stored))).toBe(root);
    }
  });
});
