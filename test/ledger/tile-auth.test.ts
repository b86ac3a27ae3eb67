/**
 * The pure authenticator (ledger/tile-auth.ts) against every way a tile
 * source can lie: a flipped byte in any level's tile, a partial tile of the
 * wrong width, a tile from another tree, a truncated or padded bundle, an
 * entry swapped between two bundles — each detected and named — for tree
 * sizes on and off tile boundaries, up to 70,000 entries (level-2 tiles).
 * And what is true is accepted: tiles as they are, and wider ones (a newer
 * partial, or the full tile for a gone partial).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { equalBytes, utf8 } from '../../ledger/bytes.js';
import {
  MemoryHashStore,
  proveConsistency,
  proveInclusion,
  treeHash,
  type TreeHead,
} from '../../ledger/merkle.js';
import {
  ENTRIES_LEVEL,
  entryBundlePrefix,
  formatEntryBundle,
  parseEntryBundle,
  TILE_WIDTH,
  tilePath,
  tilesForSize,
  UnverifiedTileHashReader,
  widthAtSize,
  type Tile,
} from '../../ledger/tile.js';
import {
  authenticateTiles,
  authenticationPlan,
  readAuthentic,
  TileAuthError,
  tileData,
  TileHashReader,
  tileKey,
} from '../../ledger/tile-auth.js';

const MAX = 70_000;

/** A log of `n` entries: every tile and bundle at its widest (final) width, and the trusted hash store. */
function buildLog(n: number, tag: string) {
  const appender = new TreeAppender();
  const store = new MemoryHashStore();
  const tiles = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const { leafHash } = appender.appendEntry(utf8(`${tag} entry ${i}`));
    store.append(leafHash);
    if (i % 1000 === 999 || i === n - 1)
      for (const { tile, data } of appender.takeTiles()) tiles.set(tileKey(tile), data.slice());
  }
  const head = (size: number): TreeHead => ({
    size,
    root: treeHash(
      size,
      new UnverifiedTileHashReader(size, (ts) =>
        ts.map((t) => tiles.get(tileKey(t))!.subarray(0, t.width * 32)),
      ),
    ),
  });
  return { tiles, store, head };
}

let log: ReturnType<typeof buildLog>;
let other: ReturnType<typeof buildLog>;
beforeAll(() => {
  log = buildLog(MAX, 'a');
  other = buildLog(300, 'b');
});

/** Tiles of the tree of `size` to ask for: some of every level, full and partial, and bundles. */
function someTiles(size: number, pick: number[]): Tile[] {
  const all = [...tilesForSize(size)];
  for (let n = 0; n * TILE_WIDTH < size; n++)
    all.push({ level: ENTRIES_LEVEL, index: n, width: widthAtSize(-1, n, size) });
  if (all.length === 0) return [];
  return [...new Map(pick.map((p) => all[p % all.length]!).map((t) => [`${tileKey(t)}`, t])).values()];
}

const sizes = fc.oneof(
  fc.integer({ min: 1, max: MAX }),
  fc.constantFrom(1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 65_536 + 256, MAX),
);
const picks = fc.array(fc.nat(10_000), { minLength: 1, maxLength: 6 });

describe('authenticateTiles', () => {
  it('accepts every tile as stored (wider than at the size asked: a prefix of it) and returns it at its width', () => {
    fc.assert(
      fc.property(sizes, picks, (size, pick) => {
        const head = log.head(size);
        const tiles = someTiles(size, pick);
        const out = authenticateTiles(head, tiles, (t) => log.tiles.get(tileKey(t)));
        for (const t of tiles) {
          const stored = log.tiles.get(tileKey(t))!;
          const want =
            t.level === ENTRIES_LEVEL ? entryBundlePrefix(stored, t.width) : stored.subarray(0, t.width * 32);
          expect(equalBytes(tileData(t, out), want), tilePath(t)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('names the tile when a byte of any tile it reads is flipped', () => {
    fc.assert(
      fc.property(sizes, picks, fc.nat(), fc.nat(), (size, pick, which, at) => {
        const head = log.head(size);
        const tiles = someTiles(size, pick);
        const plan = authenticationPlan(tiles, size);
        const victim = plan[which % plan.length]!;
        const good = log.tiles.get(tileKey(victim))!;
        // Flip within what the tree of `size` holds of the tile (beyond it, nothing is read).
        const span =
          victim.level === ENTRIES_LEVEL ? entryBundlePrefix(good, victim.width).length : victim.width * 32;
        const bad = good.slice();
        bad[at % span]! ^= 0x01;
        const err = (() => {
          try {
            authenticateTiles(head, tiles, (t) =>
              tileKey(t) === tileKey(victim) ? bad : log.tiles.get(tileKey(t)),
            );
          } catch (e) {
            return e;
          }
          return null;
        })();
        expect(err, `${tilePath(victim)} flipped at ${at % span}`).toBeInstanceOf(TileAuthError);
        const named = (err as TileAuthError).tile;
        const isEdge = victim.level !== ENTRIES_LEVEL && victim.width < TILE_WIDTH;
        if (isEdge) expect(named.width, 'an edge tile').toBeLessThan(TILE_WIDTH);
        else expect(tileKey(named)).toBe(tileKey(victim));
      }),
      { numRuns: 150 },
    );
  });

  it('names a tile that is short (a partial tile of the wrong width), missing, or not whole hashes', () => {
    const size = 70_000 - 13;
    const head = log.head(size);
    const tiles = someTiles(size, [0, 1, 2, 3, 400]);
    const plan = authenticationPlan(tiles, size);
    for (const victim of plan) {
      const good = log.tiles.get(tileKey(victim))!;
      const lies: Array<Uint8Array | undefined> = [undefined];
      if (victim.level === ENTRIES_LEVEL) lies.push(entryBundlePrefix(good, victim.width).subarray(0, -1));
      else lies.push(good.subarray(0, (victim.width - 1) * 32), good.subarray(0, victim.width * 32 - 5));
      for (const lie of lies) {
        expect(() =>
          authenticateTiles(head, tiles, (t) =>
            tileKey(t) === tileKey(victim) ? lie : log.tiles.get(tileKey(t)),
          ),
        ).toThrow(TileAuthError);
        try {
          authenticateTiles(head, tiles, (t) =>
            tileKey(t) === tileKey(victim) ? lie : log.tiles.get(tileKey(t)),
          );
        } catch (e) {
          expect(tileKey((e as TileAuthError).tile)).toBe(tileKey(victim));
        }
      }
    }
  });

  it('refuses tiles from another tree of the same size', () => {
    for (const size of [1, 37, 256, 300]) {
      const head = log.head(size);
      const tiles = someTiles(size, [0, 1, 2, 3]);
      expect(() => authenticateTiles(head, tiles, (t) => other.tiles.get(tileKey(t)))).toThrow(TileAuthError);
    }
  });

  it('refuses a full bundle with anything after its 256 entries, and an entry swapped between two bundles', () => {
    const size = 1000;
    const head = log.head(size);
    const b0: Tile = { level: ENTRIES_LEVEL, index: 0, width: 256 };
    const b1: Tile = { level: ENTRIES_LEVEL, index: 1, width: 256 };
    const e0 = parseEntryBundle(log.tiles.get(tileKey(b0))!);
    const e1 = parseEntryBundle(log.tiles.get(tileKey(b1))!);
    const read = (over: Map<string, Uint8Array>) => (t: Tile) =>
      over.get(tileKey(t)) ?? log.tiles.get(tileKey(t));
    const padded = formatEntryBundle([...e0, utf8('one more')].slice(0, 256)); // fine: 256 entries
    expect(() => authenticateTiles(head, [b0], read(new Map([[tileKey(b0), padded]])))).not.toThrow();
    const tooMany = new Uint8Array([...log.tiles.get(tileKey(b0))!, 0, 1, 7]);
    const trailing = new Uint8Array([...log.tiles.get(tileKey(b0))!, 0]);
    for (const lie of [tooMany, trailing])
      expect(() => authenticateTiles(head, [b0], read(new Map([[tileKey(b0), lie]])))).toThrow(
        /tile\/entries\/000 /,
      );
    const swapped0 = formatEntryBundle([e1[5]!, ...e0.slice(1)]);
    const swapped1 = formatEntryBundle([...e1.slice(0, 5), e0[0]!, ...e1.slice(6)]);
    const both = read(
      new Map([
        [tileKey(b0), swapped0],
        [tileKey(b1), swapped1],
      ]),
    );
    expect(() => authenticateTiles(head, [b1, b0], both)).toThrow(TileAuthError);
    expect(() => authenticateTiles(head, [b1], both)).toThrow(/tile\/entries\/001 /);
    // With its level-0 tile asked for too, the bundle is checked entry by entry.
    expect(() => authenticateTiles(head, [{ level: 0, index: 1, width: 256 }, b1], both)).toThrow(
      /tile\/entries\/001 .*entry 5/,
    );
  });

  it('trusts what `known` gives and reads nothing for it', () => {
    const size = 66_000;
    const head = log.head(size);
    const tiles = someTiles(size, [1, 2, 3, 50, 700]);
    const saved = new Map<string, Uint8Array>();
    const reads: string[] = [];
    const reader = {
      readTiles: (ts: Tile[]) =>
        ts.map((t) => {
          reads.push(tilePath(t));
          return log.tiles.get(tileKey(t));
        }),
      known: (t: Tile) => {
        const d = saved.get(tileKey(t));
        return d && d.length >= (t.level === ENTRIES_LEVEL ? 0 : t.width * 32)
          ? tileData(t, saved)
          : undefined;
      },
      saveTiles: (ts: Tile[], data: Uint8Array[]) => ts.forEach((t, i) => saved.set(tileKey(t), data[i]!)),
    };
    readAuthentic(head, tiles, reader);
    const first = reads.length;
    expect(first).toBeGreaterThan(0);
    readAuthentic(head, tiles, reader);
    expect(reads.length).toBe(first);
  });
});

describe('TileHashReader', () => {
  it('reads only authentic hashes: proofs equal those of a trusted store; a lying source is named', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), (size, a, b) => {
        const head = log.head(size);
        const reader = new TileHashReader(head, {
          readTiles: (ts) => ts.map((t) => log.tiles.get(tileKey(t))),
        });
        const index = a % size;
        const m = 1 + (b % size);
        expect(proveInclusion(index, size, reader)).toEqual(proveInclusion(index, size, log.store));
        expect(proveConsistency(m, size, reader)).toEqual(proveConsistency(m, size, log.store));
        const lying = new TileHashReader(head, {
          readTiles: (ts) =>
            ts.map((t) => {
              const d = log.tiles.get(tileKey(t))!.slice();
              d[0]! ^= 1;
              return d;
            }),
        });
        expect(() => treeHash(size, lying)).toThrow(TileAuthError);
      }),
      { numRuns: 40 },
    );
  });
});
