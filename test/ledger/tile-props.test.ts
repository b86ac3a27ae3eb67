// Property tests: tile paths and entry bundles round-trip and reject garbage
// with MalformedError only; an appender restarted from a state snapshot
// continues exactly as one that never stopped.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TreeAppender, appenderStateFrom, type AppenderState, type TileData } from '../../ledger/appender.js';
import { toHex, utf8 } from '../../ledger/bytes.js';
import { MalformedError, OutOfRangeError } from '../../ledger/errors.js';
import { leafHash } from '../../ledger/hash.js';
import {
  MemoryHashStore,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
} from '../../ledger/merkle.js';
import {
  ENTRIES_LEVEL,
  TILE_WIDTH,
  UnverifiedTileHashReader,
  entryBundlesForSize,
  formatEntryBundle,
  hashFromTile,
  parseEntryBundle,
  parseTilePath,
  tileForStoredHash,
  tilePath,
  tilesForSize,
  type Tile,
} from '../../ledger/tile.js';

const arbTile: fc.Arbitrary<Tile> = fc.record({
  level: fc.integer({ min: -1, max: 63 }),
  index: fc.oneof(fc.nat(2000), fc.nat(1_000_000_000), fc.maxSafeNat()),
  width: fc.oneof(fc.constant(TILE_WIDTH), fc.integer({ min: 1, max: TILE_WIDTH })),
});

/** parseTilePath either throws MalformedError or returns the tile whose canonical path is `s`. */
function parsesCanonicallyOrRejects(s: string): void {
  let tile: Tile;
  try {
    tile = parseTilePath(s);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedError);
    return;
  }
  expect(tilePath(tile)).toBe(s);
}

describe('tile paths', () => {
  it('round-trip for arbitrary tiles', () => {
    fc.assert(
      fc.property(arbTile, (tile) => {
        const path = tilePath(tile);
        expect(parseTilePath(path)).toEqual(tile);
      }),
      { numRuns: 500 },
    );
  });

  it('reject garbage strings with MalformedError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), parsesCanonicallyOrRejects), { numRuns: 500 });
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'tile/entries0123456789x.p/'.split('')), maxLength: 40 }),
        (s) => parsesCanonicallyOrRejects('tile/' + s),
      ),
      { numRuns: 1000 },
    );
  });

  it('reject mutated valid paths with MalformedError, unless the mutation is itself canonical', () => {
    const alphabet = '0123456789x./-pe ';
    fc.assert(
      fc.property(
        arbTile,
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace'),
        fc.constantFrom(...alphabet.split('')),
        (tile, at, op, c) => {
          const path = tilePath(tile);
          const i = at % (path.length + 1);
          const mutated =
            op === 'insert'
              ? path.slice(0, i) + c + path.slice(i)
              : op === 'delete'
                ? path.slice(0, i) + path.slice(i + 1)
                : path.slice(0, i) + c + path.slice(i + 1);
          parsesCanonicallyOrRejects(mutated);
          parsesCanonicallyOrRejects('/' + mutated);
        },
      ),
      { numRuns: 1000 },
    );
    expect(() => parseTilePath('/' + tilePath({ level: 0, index: 1, width: 3 }))).toThrow(MalformedError);
  });
});

const arbEntries = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: TILE_WIDTH });

describe('entry bundles', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(arbEntries, (entries) => {
        const data = formatEntryBundle(entries);
        expect(data.length).toBe(entries.reduce((n, e) => n + 2 + e.length, 0));
        expect(parseEntryBundle(data).map(toHex)).toEqual(entries.map(toHex));
        if (entries.length > 0)
          expect(parseEntryBundle(data, entries.length).map(toHex)).toEqual(entries.map(toHex));
      }),
      { numRuns: 200 },
    );
  });

  it('truncated, extended or miscounted bundles are rejected with MalformedError', () => {
    fc.assert(
      fc.property(
        arbEntries.filter((e) => e.length > 0),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 10 }),
        (entries, cut, extra) => {
          const data = formatEntryBundle(entries);
          const n = entries.length;
          expect(() => parseEntryBundle(data.subarray(0, cut % data.length), n)).toThrow(MalformedError);
          const longer = new Uint8Array([...data, ...extra]);
          expect(() => parseEntryBundle(longer, n)).toThrow(MalformedError);
          if (n < TILE_WIDTH) expect(() => parseEntryBundle(data, n + 1)).toThrow(MalformedError);
          if (n > 1) expect(() => parseEntryBundle(data, n - 1)).toThrow(MalformedError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('garbage bytes parse canonically or are rejected with MalformedError, never another error', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.option(fc.integer({ min: 1, max: 256 })),
        (data, width) => {
          let entries: Uint8Array[];
          try {
            entries = parseEntryBundle(data, width ?? undefined);
          } catch (e) {
            expect(e).toBeInstanceOf(MalformedError);
            return;
          }
          expect(toHex(formatEntryBundle(entries))).toBe(toHex(data));
          if (width !== null) expect(entries).toHaveLength(width);
        },
      ),
      { numRuns: 1000 },
    );
    // More than 256 empty entries.
    expect(() => parseEntryBundle(new Uint8Array(2 * 257))).toThrow(MalformedError);
  });

  it('refuses entries a uint16 cannot frame', () => {
    expect(() => formatEntryBundle([new Uint8Array(65536)])).toThrow(RangeError);
    expect(formatEntryBundle([new Uint8Array(65535)]).length).toBe(65537);
    expect(() => formatEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(0)))).toThrow(RangeError);
    expect(() => new TreeAppender().appendEntry(new Uint8Array(65536))).toThrow(RangeError);
  });
});

// ---- Reading stored hashes from tiles. ----

describe('hashes from tiles', () => {
  // A tree of 1,200 leaves with its tiles at every width, and all its stored hashes.
  const N = 1200;
  const store = new MemoryHashStore();
  const served = new Map<string, Uint8Array>();
  const app = new TreeAppender();
  for (let i = 0; i < N; i++) {
    store.append(leafHash(utf8(`t${i}`)));
    app.appendLeafHash(leafHash(utf8(`t${i}`)));
    for (const { tile, data } of app.takeTiles()) served.set(tilePath(tile), data);
  }
  const arbSizeAndIndex = fc
    .integer({ min: 1, max: N })
    .chain((size) => fc.tuple(fc.constant(size), fc.nat(storedHashCount(size) - 1)));

  it('every stored hash of every size is in the tile tileForStoredHash names, at that size', () => {
    fc.assert(
      fc.property(arbSizeAndIndex, ([size, index]) => {
        const tile = tileForStoredHash(index, size);
        expect(tilesForSize(size).map(tilePath)).toContain(tilePath(tile));
        const want = toHex(store.readHashes([index])[0]!);
        expect(toHex(hashFromTile(tile, served.get(tilePath(tile))!, index))).toBe(want);
        // Narrower tiles of the same row hold it exactly when they reach its last hash.
        const [level, n] = splitStoredHashIndex(index);
        const r = level - tile.level * 8;
        const needed = (n + 1) * 2 ** r - tile.index * TILE_WIDTH;
        for (const width of new Set([1, needed - 1, needed, tile.width])) {
          if (width < 1 || width > tile.width) continue;
          const narrow = { ...tile, width };
          const data = served.get(tilePath(narrow))!;
          if (width >= needed) expect(toHex(hashFromTile(narrow, data, index))).toBe(want);
          else expect(() => hashFromTile(narrow, data, index)).toThrow(RangeError);
        }
        expect(
          toHex(
            new UnverifiedTileHashReader(size, (ts) => ts.map((t) => served.get(tilePath(t))!)).readHashes([
              index,
            ])[0]!,
          ),
        ).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects what does not fit', () => {
    const tile = { level: 0, index: 0, width: 256 };
    const data = served.get('tile/0/000')!;
    expect(() => hashFromTile(tile, data.subarray(1), 0)).toThrow(MalformedError);
    expect(() => hashFromTile(tile, new Uint8Array([...data, 0]), 0)).toThrow(MalformedError);
    expect(() => hashFromTile({ level: 1, index: 0, width: 4 }, data.subarray(0, 128), 0)).toThrow(
      RangeError,
    );
    expect(() => hashFromTile({ level: 0, index: 1, width: 256 }, data, 0)).toThrow(RangeError);
    expect(() => hashFromTile({ level: -1, index: 0, width: 256 }, data, 0)).toThrow(RangeError);
    // Level 8 (the root of tile 0) is in the level-1 tile, not derivable from tile/0/000.
    expect(() => hashFromTile(tile, data, storedHashIndex(8, 0))).toThrow(RangeError);
    expect(() => tileForStoredHash(storedHashCount(300), 300)).toThrow(OutOfRangeError);
    const short = new UnverifiedTileHashReader(300, (ts) =>
      ts.map((t) => served.get(tilePath(t))!.subarray(32)),
    );
    expect(() => short.readHashes([0])).toThrow(MalformedError);
    const none = new UnverifiedTileHashReader(300, () => []);
    expect(() => none.readHashes([0])).toThrow(MalformedError);
    let calls = 0;
    const counted = new UnverifiedTileHashReader(300, (ts) => {
      calls++;
      return ts.map((t) => served.get(tilePath(t))!);
    });
    expect(counted.readHashes([])).toEqual([]);
    expect(calls).toBe(0);
    expect(counted.readHashes([0, 1, 2, 500, storedHashIndex(8, 0)])).toHaveLength(5);
    expect(calls).toBe(1);
  });
});

// ---- Appender restarts. ----

type Op = { count: number; take: boolean };

const tilesText = (tiles: TileData[]) => tiles.map(({ tile, data }) => `${tilePath(tile)}:${toHex(data)}`);

/** Applies `op` to `app`, appending leaves from `next` on; returns roots after each append and the taken tiles. */
function apply(app: TreeAppender, op: Op, entries: boolean): { roots: string[]; tiles: string[] } {
  const roots: string[] = [];
  for (let i = 0; i < op.count; i++) {
    const n = app.size;
    if (entries) app.appendEntry(utf8(`entry ${n}`));
    else app.appendLeafHash(leafHash(utf8(`hash ${n}`)));
    roots.push(toHex(app.root()));
  }
  return { roots, tiles: op.take ? tilesText(app.takeTiles()) : [] };
}

describe('appender state', () => {
  it('a snapshot continues identically to an uninterrupted appender', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ count: fc.nat(300), take: fc.boolean() }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.boolean(),
        (ops, at, entries) => {
          const cut = at % ops.length;
          const a = new TreeAppender();
          let b = new TreeAppender();
          ops.forEach((op, k) => {
            if (k === cut) {
              // Persisting a state comes after taking (and storing) the tiles.
              expect(tilesText(b.takeTiles())).toEqual(tilesText(a.takeTiles()));
              const state = b.state();
              b = new TreeAppender(state);
              // The snapshot is a copy: mutating it does not affect the appender.
              state.edge.forEach((h) => h.fill(0));
              for (const data of state.tiles.values()) data.fill(0);
              expect(toHex(b.root())).toBe(toHex(a.root()));
            }
            expect(apply(b, op, entries)).toEqual(apply(a, op, entries));
            expect(toHex(b.root())).toBe(toHex(a.root()));
          });
          expect(tilesText(b.takeTiles())).toEqual(tilesText(a.takeTiles()));
          expect(b.state()).toEqual(a.state());
        },
      ),
      { numRuns: 60 },
    );
  });

  it('emits exactly the tiles of the tree, and appenderStateFrom rebuilds the state from them', () => {
    // 65,540 leaves crosses the first full level-1 tile (a level-2 partial appears).
    const app = new TreeAppender();
    const served = new Map<string, Uint8Array>();
    const put = (tiles: TileData[]) => tiles.forEach(({ tile, data }) => served.set(tilePath(tile), data));
    for (const stop of [1, 255, 256, 257, 1000, 65535, 65536, 65540]) {
      while (app.size < stop) app.appendEntry(utf8(`e${app.size}`));
      const before = app.size;
      const taken = app.takeTiles();
      put(taken);
      // Everything the tree at this size needs is served.
      for (const t of [...tilesForSize(before), ...entryBundlesForSize(before)]) {
        expect(served.get(tilePath(t)), tilePath(t)).toBeDefined();
      }
      const partial = new Map<number, Uint8Array>();
      for (const t of [...tilesForSize(before), ...entryBundlesForSize(before)]) {
        if (t.width < TILE_WIDTH) partial.set(t.level, served.get(tilePath(t))!);
      }
      if (!partial.has(ENTRIES_LEVEL)) partial.set(ENTRIES_LEVEL, new Uint8Array(0));
      const rebuilt = appenderStateFrom(before, partial);
      expect(rebuilt).toEqual(app.state());
      expect(toHex(new TreeAppender(rebuilt).root())).toBe(toHex(app.root()));
    }
    expect(served.has('tile/1/000')).toBe(true);
    expect(served.has('tile/2/000.p/1')).toBe(true);
    expect(app.takeTiles()).toEqual([]);
  });

  it('rejects inconsistent states with MalformedError', () => {
    const app = new TreeAppender();
    for (let i = 0; i < 300; i++) app.appendLeafHash(leafHash(utf8(`h${i}`)));
    const good = app.state();
    const copy = (s: AppenderState): AppenderState => ({
      size: s.size,
      edge: s.edge.map((h) => h.slice()),
      tiles: new Map([...s.tiles].map(([k, v]) => [k, v.slice()])),
    });
    expect(() => new TreeAppender(copy(good))).not.toThrow();
    const badEdge = copy(good);
    badEdge.edge[1]![0]! ^= 1;
    expect(() => new TreeAppender(badEdge)).toThrow(MalformedError);
    const shortEdge = copy(good);
    shortEdge.edge.pop();
    expect(() => new TreeAppender(shortEdge)).toThrow(MalformedError);
    const missing = copy(good);
    missing.tiles.delete(0);
    expect(() => new TreeAppender(missing)).toThrow(MalformedError);
    const extra = copy(good);
    extra.tiles.set(5, new Uint8Array(32));
    expect(() => new TreeAppender(extra)).toThrow(MalformedError);
    const wrongSize = copy(good);
    wrongSize.size = 301;
    expect(() => new TreeAppender(wrongSize)).toThrow(MalformedError);
    const badTile = copy(good);
    badTile.tiles.get(0)![0]! ^= 1; // an edge hash lives in this tile
    expect(() => new TreeAppender(badTile)).toThrow(MalformedError);
    const badBundle = copy(good);
    badBundle.tiles.set(ENTRIES_LEVEL, new Uint8Array([0, 5, 1]));
    expect(() => new TreeAppender(badBundle)).toThrow(MalformedError);
  });

  it('keeps to one mode: entries or bare leaf hashes', () => {
    const e = new TreeAppender();
    e.appendEntry(utf8('x'));
    expect(() => e.appendLeafHash(leafHash(utf8('y')))).toThrow(Error);
    const h = new TreeAppender();
    h.appendLeafHash(leafHash(utf8('y')));
    expect(() => h.appendEntry(utf8('x'))).toThrow(Error);
    expect(() => h.appendLeafHash(new Uint8Array(31))).toThrow(RangeError);
  });
});
