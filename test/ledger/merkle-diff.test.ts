// Differential tests: the stored-hash algorithms, the appender and the tile
// reader against a naive recursive transcription of RFC 9162 §2.1 (MTH,
// PATH, PROOF), written here without ledger/hash.ts.
import { sha256 } from '@noble/hashes/sha2.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { equalBytes, toHex, utf8 } from '../../ledger/bytes.js';
import { OutOfRangeError, ProofError } from '../../ledger/errors.js';
import {
  MemoryHashStore,
  proveConsistency,
  proveInclusion,
  proveInclusions,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type HashReader,
} from '../../ledger/merkle.js';
import {
  UnverifiedTileHashReader,
  parseEntryBundle,
  parseTilePath,
  tilePath,
  type Tile,
} from '../../ledger/tile.js';

// ---- The naive reference, RFC 9162 §2.1. ----

/** MTH, PATH and PROOF over a fixed list of entries, memoising MTH by range. */
class Naive {
  readonly #memo = new Map<number, Uint8Array>();
  constructor(readonly entries: Uint8Array[]) {}

  /** The largest power of two smaller than n (n > 1). */
  static k(n: number): number {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  /** MTH(D[lo:hi]), §2.1.1. */
  mth(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return sha256(new Uint8Array(0));
    const key = lo * 2 ** 20 + hi;
    let h = this.#memo.get(key);
    if (h !== undefined) return h;
    if (n === 1) {
      const e = this.entries[lo]!;
      const buf = new Uint8Array(1 + e.length);
      buf.set(e, 1); // 0x00 || d(0)
      h = sha256(buf);
    } else {
      const k = Naive.k(n);
      const buf = new Uint8Array(65);
      buf[0] = 1; // 0x01 || MTH(D[0:k]) || MTH(D[k:n])
      buf.set(this.mth(lo, lo + k), 1);
      buf.set(this.mth(lo + k, hi), 33);
      h = sha256(buf);
    }
    this.#memo.set(key, h);
    return h;
  }

  /** PATH(m, D[lo:hi]), §2.1.3.1. */
  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = Naive.k(n);
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** SUBPROOF(m, D[lo:hi], b), §2.1.4.1. */
  subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = Naive.k(n);
    if (m <= k) return [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }

  /** PROOF(m, D[0:n]), §2.1.4.1. */
  proof(m: number, n: number): Uint8Array[] {
    return this.subproof(m, 0, n, true);
  }
}

// ---- Fixtures. ----

/** mulberry32: a small seeded PRNG so failures reproduce. */
function prng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

const entryOf = (i: number) => utf8(`urna test entry ${i}`);
const hex = (hs: Uint8Array[]) => hs.map(toHex);

/** Asserts two hash lists are equal; compares bytes, formats hex only on failure. */
function expectSame(got: Uint8Array[], want: Uint8Array[], what = ''): void {
  if (got.length === want.length && got.every((h, i) => equalBytes(h, want[i]!))) return;
  expect(hex(got), what).toEqual(hex(want));
}

function flip(h: Uint8Array, bit: number): Uint8Array {
  const c = h.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

/** A tile server: every tile the appender emitted, by path (all widths kept). */
class TileStore {
  readonly tiles = new Map<string, Uint8Array>();
  reads = 0;
  put(emitted: Array<{ tile: Tile; data: Uint8Array }>): void {
    for (const { tile, data } of emitted) this.tiles.set(tilePath(tile), data);
  }
  reader(size: number): UnverifiedTileHashReader {
    return new UnverifiedTileHashReader(size, (tiles) => {
      this.reads++;
      return tiles.map((t) => {
        const data = this.tiles.get(tilePath(t));
        if (data === undefined) throw new Error(`missing tile ${tilePath(t)}`);
        return data;
      });
    });
  }
}

/** Counts readHashes calls, to check that each algorithm reads once. */
function counting(r: HashReader): HashReader & { calls: number } {
  const c = {
    calls: 0,
    readHashes(indexes: readonly number[]) {
      c.calls++;
      return r.readHashes(indexes);
    },
  };
  return c;
}

// ---- Small trees: every size 0..300, crossing a tile boundary. ----

describe('every tree up to 300 leaves', () => {
  const N = 300;
  /**
   * Every index up to 128 leaves; above, every sixth index, starting at an
   * offset that varies with the size (so every residue is covered).
   */
  const EXHAUSTIVE = 128;
  const step = (size: number) => (size <= EXHAUSTIVE ? 1 : 6);
  const first = (size: number) => (size <= EXHAUSTIVE ? 0 : size % 6);
  const entries = Array.from({ length: N }, (_, i) => entryOf(i));
  const naive = new Naive(entries);
  const store = new MemoryHashStore();
  const tiles = new TileStore();
  const appenderRoots: string[] = [];

  beforeAll(() => {
    const app = new TreeAppender();
    appenderRoots.push(toHex(app.root()));
    for (let i = 0; i < N; i++) {
      const { index, leafHash } = app.appendEntry(entries[i]!);
      expect(index).toBe(i);
      expect(store.append(leafHash)).toBe(i);
      appenderRoots.push(toHex(app.root()));
      tiles.put(app.takeTiles());
    }
  });

  it('roots agree: appender, stored hashes, tiles, naive MTH', () => {
    for (let size = 0; size <= N; size++) {
      const want = toHex(naive.mth(0, size));
      expect(appenderRoots[size], `size ${size}`).toBe(want);
      expect(toHex(treeHash(size, store))).toBe(want);
      expect(toHex(treeHash(size, tiles.reader(size)))).toBe(want);
    }
  });

  it('the emitted tiles are the tiles of every size, and bundles hold the entries', () => {
    // 300 leaves: level 0 full tile 000 and partials 1..255, 001.p/1..44; level 1 partials 1.
    expect(tiles.tiles.has('tile/0/000')).toBe(true);
    expect(tiles.tiles.has('tile/0/000.p/255')).toBe(true);
    expect(tiles.tiles.has('tile/0/001.p/44')).toBe(true);
    expect(tiles.tiles.has('tile/1/000.p/1')).toBe(true);
    expect(tiles.tiles.has('tile/1/000')).toBe(false);
    for (const [path, data] of tiles.tiles) {
      const t = parseTilePath(path);
      if (t.level !== -1) continue;
      const got = parseEntryBundle(data, t.width);
      expect(got.map(toHex)).toEqual(entries.slice(t.index * 256, t.index * 256 + t.width).map(toHex));
    }
  });

  it('inclusion proofs equal PATH and verify, for every (index, size)', () => {
    let count = 0;
    for (let size = 1; size <= N; size++) {
      const root = naive.mth(0, size);
      for (let index = first(size); index < size; index += step(size)) {
        count++;
        const proof = proveInclusion(index, size, store);
        expectSame(proof, naive.path(index, 0, size));
        verifyInclusion(naive.mth(index, index + 1), index, size, root, proof);
      }
    }
    expect(count).toBeGreaterThan(14_000);
  });

  it('consistency proofs equal PROOF and verify, for every (size1, size2)', () => {
    let count = 0;
    for (let size2 = 1; size2 <= N; size2++) {
      const root2 = naive.mth(0, size2);
      for (let size1 = 1 + first(size2); size1 <= size2; size1 += step(size2)) {
        count++;
        const proof = proveConsistency(size1, size2, store);
        expectSame(proof, naive.proof(size1, size2));
        verifyConsistency(size1, size2, naive.mth(0, size1), root2, proof);
      }
    }
    expect(count).toBeGreaterThan(14_000);
  });

  it('proofs from the tiles equal those from stored hashes, each with one read', () => {
    const rand = prng(1);
    for (let size = 1; size <= N; size++) {
      const reader = tiles.reader(size);
      const picks = new Set([size - 1, rand(size)]);
      for (const i of picks) {
        const r = counting(reader);
        const before = tiles.reads;
        expectSame(proveInclusion(i, size, r), proveInclusion(i, size, store));
        expect(r.calls).toBeLessThanOrEqual(1);
        expect(tiles.reads - before).toBeLessThanOrEqual(1);
        const m = i + 1;
        expectSame(proveConsistency(m, size, r), proveConsistency(m, size, store));
      }
    }
  });

  it('batch inclusion proofs equal PATH for every leaf of every batch, with one read', () => {
    const rand = prng(7);
    let count = 0;
    for (let size = 1; size <= N; size++) {
      // A just-sequenced batch (the last b leaves), a scattered set with a repeat, and the empty set.
      const b = 1 + rand(Math.min(size, 300));
      const batches = [
        Array.from({ length: b }, (_, i) => size - b + i),
        [rand(size), rand(size), size - 1, 0].concat(size > 1 ? [rand(size)] : []),
        [],
      ];
      for (const indexes of batches) {
        const r = counting(tiles.reader(size));
        const proofs = proveInclusions(indexes, size, r);
        expect(r.calls).toBeLessThanOrEqual(1);
        expect(proofs).toHaveLength(indexes.length);
        indexes.forEach((index, i) => {
          count++;
          expectSame(proofs[i]!, naive.path(index, 0, size));
        });
      }
    }
    expect(count).toBeGreaterThan(14_000);
    expect(() => proveInclusions([0, 5], 5, store)).toThrow(OutOfRangeError);
  });

  it('a flipped bit in any proof hash, the root or the leaf fails inclusion', () => {
    const rand = prng(2);
    for (let size = 1; size <= N; size += size < 24 ? 1 : 13) {
      const root = naive.mth(0, size);
      for (let index = 0; index < size; index += size < 24 ? 1 : 11) {
        const leaf = naive.mth(index, index + 1);
        const proof = proveInclusion(index, size, store);
        for (let j = 0; j < proof.length; j++) {
          const bad = proof.slice();
          bad[j] = flip(proof[j]!, rand(256));
          expect(() => verifyInclusion(leaf, index, size, root, bad)).toThrow(ProofError);
        }
        expect(() => verifyInclusion(flip(leaf, rand(256)), index, size, root, proof)).toThrow(ProofError);
        expect(() => verifyInclusion(leaf, index, size, flip(root, rand(256)), proof)).toThrow(ProofError);
        expect(() => verifyInclusion(leaf, index, size, root, [...proof, root])).toThrow(ProofError);
        if (proof.length > 0) {
          expect(() => verifyInclusion(leaf, index, size, root, proof.slice(1))).toThrow(ProofError);
        }
        if (index + 1 < size)
          expect(() => verifyInclusion(leaf, index + 1, size, root, proof)).toThrow(ProofError);
      }
    }
  });

  it('a flipped bit in any proof hash or either root fails consistency', () => {
    const rand = prng(3);
    for (let size2 = 1; size2 <= N; size2 += size2 < 24 ? 1 : 13) {
      const root2 = naive.mth(0, size2);
      for (let size1 = 1; size1 <= size2; size1 += size2 < 24 ? 1 : 11) {
        const root1 = naive.mth(0, size1);
        const proof = proveConsistency(size1, size2, store);
        for (let j = 0; j < proof.length; j++) {
          const bad = proof.slice();
          bad[j] = flip(proof[j]!, rand(256));
          expect(() => verifyConsistency(size1, size2, root1, root2, bad)).toThrow(ProofError);
        }
        expect(() => verifyConsistency(size1, size2, flip(root1, rand(256)), root2, proof)).toThrow(
          ProofError,
        );
        expect(() => verifyConsistency(size1, size2, root1, flip(root2, rand(256)), proof)).toThrow(
          ProofError,
        );
        expect(() => verifyConsistency(size1, size2, root1, root2, [...proof, root2])).toThrow(ProofError);
        if (size1 > 1)
          expect(() => verifyConsistency(size1 - 1, size2, root1, root2, proof)).toThrow(ProofError);
      }
    }
  });

  it('rejects what the conventions reject', () => {
    const r5 = naive.mth(0, 5);
    const r8 = naive.mth(0, 8);
    expect(() => verifyConsistency(0, 8, naive.mth(0, 0), r8, [])).toThrow(ProofError);
    expect(() => verifyConsistency(0, 0, naive.mth(0, 0), naive.mth(0, 0), [])).toThrow(ProofError);
    expect(() => verifyConsistency(8, 5, r8, r5, proveConsistency(5, 8, store))).toThrow(ProofError);
    expect(() => verifyConsistency(5, 5, r5, r5, [r5])).toThrow(ProofError);
    expect(() => verifyConsistency(5, 5, r5, r8, [])).toThrow(ProofError);
    verifyConsistency(5, 5, r5, r5, []);
    expect(() => verifyInclusion(naive.mth(0, 1), 0, 0, naive.mth(0, 0), [])).toThrow(ProofError);
    expect(() => proveInclusion(5, 5, store)).toThrow(OutOfRangeError);
    expect(() => proveConsistency(0, 5, store)).toThrow(OutOfRangeError);
    expect(() => proveConsistency(6, 5, store)).toThrow(OutOfRangeError);
    expect(() => proveInclusion(0, N + 1, store)).toThrow(OutOfRangeError); // the store has no such hashes
    expect(() => treeHash(N + 1, tiles.reader(N + 1))).toThrow(); // no such tiles
    expect(() => treeHash(5, tiles.reader(4))).toThrow(OutOfRangeError);
    expect(() => verifyInclusion(r5, 0, 5, r5, [new Uint8Array(31)])).toThrow(ProofError);
    expect(() => verifyInclusion(r5, 0, 1.5, r5, [])).toThrow(RangeError);
    expect(() => verifyInclusion(r5, -1, 5, r5, [])).toThrow(RangeError);
  });
});

// ---- Large trees: random sizes up to 100,000. ----

describe('random trees up to 100,000 leaves', () => {
  const rand = prng(4);
  const sizes = [
    ...new Set([
      301,
      65535,
      65536,
      65537,
      100_000,
      ...Array.from({ length: 10 }, () => 301 + rand(100_000 - 301)),
    ]),
  ].sort((a, b) => a - b);
  const N = sizes[sizes.length - 1]!;
  const entries = Array.from({ length: N }, (_, i) => entryOf(i));
  const naive = new Naive(entries);
  const store = new MemoryHashStore();
  const tiles = new TileStore();
  const roots = new Map<number, string>();

  beforeAll(() => {
    const app = new TreeAppender();
    let next = 0;
    for (let i = 0; i < N; i++) {
      store.append(app.appendEntry(entries[i]!).leafHash);
      if (app.size === sizes[next]) {
        roots.set(app.size, toHex(app.root()));
        tiles.put(app.takeTiles());
        next++;
      }
    }
  });

  it('roots agree', () => {
    for (const size of sizes) {
      const want = toHex(naive.mth(0, size));
      expect(roots.get(size), `size ${size}`).toBe(want);
      expect(toHex(treeHash(size, store))).toBe(want);
      expect(toHex(treeHash(size, tiles.reader(size)))).toBe(want);
    }
  });

  it('sampled inclusion proofs agree across stores and with PATH, and verify', () => {
    for (const size of sizes) {
      const root = naive.mth(0, size);
      const reader = tiles.reader(size);
      for (const index of [0, size - 1, ...Array.from({ length: 6 }, () => rand(size))]) {
        const proof = proveInclusion(index, size, store);
        expectSame(proof, naive.path(index, 0, size));
        expectSame(proveInclusion(index, size, reader), proof);
        verifyInclusion(naive.mth(index, index + 1), index, size, root, proof);
        const j = rand(proof.length);
        const bad = proof.slice();
        bad[j] = flip(proof[j]!, rand(256));
        expect(() => verifyInclusion(naive.mth(index, index + 1), index, size, root, bad)).toThrow(
          ProofError,
        );
      }
    }
  });

  it('sampled consistency proofs agree across stores and with PROOF, and verify', () => {
    for (const [k, size2] of sizes.entries()) {
      const root2 = naive.mth(0, size2);
      const reader = tiles.reader(size2);
      const from = [1, size2, ...sizes.slice(0, k), ...Array.from({ length: 6 }, () => 1 + rand(size2))];
      for (const size1 of from) {
        const proof = proveConsistency(size1, size2, store);
        expectSame(proof, naive.proof(size1, size2));
        expectSame(proveConsistency(size1, size2, reader), proof);
        const root1 = naive.mth(0, size1);
        verifyConsistency(size1, size2, root1, root2, proof);
        if (proof.length > 0) {
          const j = rand(proof.length);
          const bad = proof.slice();
          bad[j] = flip(proof[j]!, rand(256));
          expect(() => verifyConsistency(size1, size2, root1, root2, bad)).toThrow(ProofError);
        }
      }
    }
  });

  it('full entry bundles hold the entries', () => {
    const t = parseTilePath('tile/entries/255');
    const got = parseEntryBundle(tiles.tiles.get(tilePath(t))!, 256);
    expectSame(got, entries.slice(255 * 256, 256 * 256));
  });
});
