/**
 * Merkle tree algorithms over stored hashes: tree hashes, inclusion and
 * consistency proofs (RFC 9162 §2.1), following the design of
 * golang.org/x/mod/sumdb/tlog.
 *
 * Every hash of a complete subtree has a position in one linear layout (the
 * "stored hash index", Crosby and Wallach §3.3, as in Go's tlog). Storage is
 * reached only through {@link HashReader}: each algorithm first computes which
 * stored hashes it needs, asks for all of them in one `readHashes` call, then
 * computes. Everything is synchronous and pure.
 *
 * Sizes and indexes are `number`s. Arithmetic on them uses division, never
 * 32-bit bitwise operators, so every safe integer works.
 */
import { checkIndex, equalBytes } from './bytes.js';
import { OutOfRangeError, ProofError } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash, type Hash } from './hash.js';

/** A tree head: the tree of `size` leaves whose root hash is `root` (what a checkpoint commits to). */
export interface TreeHead {
  size: number;
  root: Hash;
}

/** Read access to stored hashes (see {@link storedHashIndex}). */
export interface HashReader {
  /**
   * Returns the hashes at the given stored hash indexes: exactly one 32-byte
   * hash per index, in the same order. Synchronous and batched: the
   * algorithms here call it at most once each. Throws (any error) if a hash
   * is not available; the error propagates to the caller of the algorithm.
   */
  readHashes(indexes: readonly number[]): Hash[];
}

// ---- Arithmetic on safe integers (no 32-bit bitwise operators). ----

/** floor(x / 2^k) for non-negative safe integers. */
function shr(x: number, k: number): number {
  return Math.floor(x / 2 ** k);
}

/** Number of trailing zero bits of a positive safe integer. */
function trailingZeros(x: number): number {
  let n = 0;
  while (x % 2 === 0) {
    x /= 2;
    n++;
  }
  return n;
}

/** k, l: the largest power of two k = 2^l that is smaller than n (n >= 2). */
function maxPow2(n: number): [k: number, l: number] {
  // l = floor(log2(n - 1)); clz32 is exact below 2^32, the loop covers the rest.
  let l = n - 1 < 2 ** 32 ? 31 - Math.clz32(n - 1) : 32;
  while (2 ** (l + 1) < n) l++;
  return [2 ** l, l];
}

// ---- Stored hash layout (golang.org/x/mod/sumdb/tlog). ----

/** storedHashIndex without argument checks, for internal loops. */
function storedIndex(level: number, n: number): number {
  // Level L's n-th hash is written right after level L+1's (2n+1)-th hash:
  // work down to the level 0 ordering, then add back the level count.
  const p = 2 ** level;
  let m = n * p + (p - 1);
  if (!Number.isSafeInteger(m)) throw new RangeError('storedHashIndex: index beyond safe integers');
  // Level 0's m-th hash is written at m + m/2 + m/4 + ...
  let i = 0;
  for (; m > 0; m = Math.floor(m / 2)) i += m;
  i += level;
  if (!Number.isSafeInteger(i)) throw new RangeError('storedHashIndex: index beyond safe integers');
  return i;
}

/**
 * Maps the tree coordinates (level, n) — the n-th complete subtree of 2^level
 * leaves, covering leaves [n·2^level, (n+1)·2^level) — to its position in the
 * dense linear layout of stored hashes (Go tlog's StoredHashIndex). Hashes are
 * stored in the order they are completed: leaf n, then the subtrees it
 * completes, lowest first.
 *
 * Throws TypeError/RangeError if `level` or `n` is not a non-negative safe
 * integer, or RangeError if the index would not be a safe integer.
 */
export function storedHashIndex(level: number, n: number): number {
  checkIndex('level', level);
  checkIndex('n', n);
  return storedIndex(level, n);
}

/**
 * The inverse of {@link storedHashIndex}: `splitStoredHashIndex(storedHashIndex(l, n))`
 * is `[l, n]`. Throws TypeError/RangeError if `index` is not a non-negative safe integer.
 */
export function splitStoredHashIndex(index: number): [level: number, n: number] {
  checkIndex('index', index);
  // storedIndex(0, n) < 2n, so the leaf we want is in [index/2, index/2 + log2(index)].
  let n = Math.floor(index / 2);
  let indexN = storedIndex(0, n);
  for (;;) {
    // Leaf n stores 1 + trailingZeros(n+1) hashes, so leaf n+1 is stored at x.
    const x = indexN + 1 + trailingZeros(n + 1);
    if (x > index) break;
    n++;
    indexN = x;
  }
  // The hash was stored with leaf n: it is one of (0, n), (1, n/2), (2, n/4), ...
  const level = index - indexN;
  return [level, shr(n, level)];
}

/**
 * The number of stored hashes of a tree of `size` leaves: every leaf hash and
 * every complete subtree hash. Stored indexes below it are exactly the hashes
 * that exist at this size. Throws TypeError/RangeError on a bad size.
 */
export function storedHashCount(size: number): number {
  checkIndex('size', size);
  if (size === 0) return 0;
  // The hashes up to the last leaf hash, then the subtrees that leaf completes.
  return storedIndex(0, size - 1) + 1 + trailingZeros(size);
}

/**
 * The stored hashes to write when appending the leaf with `leafHash` at
 * `index`: the leaf hash, then the hash of each subtree it completes, lowest
 * level first. They belong at stored indexes `storedHashIndex(0, index)`
 * onward. Reads the up to log2(index) left siblings in one `readHashes` call
 * (Go tlog's StoredHashesForRecordHash).
 *
 * Throws TypeError/RangeError on a bad index or a leaf hash that is not 32
 * bytes, and whatever `reader` throws.
 */
export function storedHashes(index: number, leafHash: Hash, reader: HashReader): Hash[] {
  checkIndex('index', index);
  checkHash('leafHash', leafHash);
  // Each trailing 1 bit of index completes a subtree with a stored left sibling.
  const m = trailingZeros(index + 1);
  const indexes: number[] = new Array<number>(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedIndex(i, shr(index, i) - 1);
  const old = read(reader, indexes);
  const out = [leafHash];
  let h = leafHash;
  for (let i = 0; i < m; i++) {
    h = nodeHash(old[m - 1 - i]!, h); // RFC 9162 §2.1.1
    out.push(h);
  }
  return out;
}

/** One batched read, checking the reader's contract. */
function read(reader: HashReader, indexes: number[]): Hash[] {
  if (indexes.length === 0) return [];
  const hashes = reader.readHashes(indexes);
  if (!Array.isArray(hashes) || hashes.length !== indexes.length) {
    throw new Error(`HashReader returned ${hashes?.length} hashes for ${indexes.length} indexes`);
  }
  for (const h of hashes) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
      throw new Error('HashReader returned a bad hash');
  }
  return hashes;
}

function checkHash(name: string, h: unknown): asserts h is Hash {
  if (!(h instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
  if (h.length !== HASH_SIZE) throw new RangeError(`${name}: expected ${HASH_SIZE} bytes`);
}

// ---- Subtree hashes. ----

/**
 * Appends to `need` the stored indexes of the complete subtrees that make up
 * leaves [lo, hi): the RFC 9162 §2.1.1 decomposition, largest (leftmost) first.
 */
function subTreeIndex(lo: number, hi: number, need: number[]): number[] {
  while (lo < hi) {
    const [k, level] = maxPow2(hi - lo + 1);
    need.push(storedIndex(level, lo / k));
    lo += k;
  }
  return need;
}

/**
 * Computes MTH(D[lo:hi]) from the hashes read for subTreeIndex(lo, hi),
 * consuming them from `hashes` starting at `at`; returns the hash and the next position.
 */
function subTreeHash(lo: number, hi: number, hashes: Hash[], at: number): [Hash, number] {
  let numTree = 0;
  while (lo < hi) {
    const [k] = maxPow2(hi - lo + 1);
    numTree++;
    lo += k;
  }
  // MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])), RFC 9162 §2.1.1,
  // folded from the right over the complete subtrees.
  let h = hashes[at + numTree - 1]!;
  for (let i = numTree - 2; i >= 0; i--) h = nodeHash(hashes[at + i]!, h);
  return [h, at + numTree];
}

/**
 * The stored indexes of the right edge of a tree of `size` leaves: one
 * complete subtree per set bit of `size`, largest (leftmost) first. These are
 * the hashes {@link treeHash} reads, and the `edge` of an appender's state.
 * Throws TypeError/RangeError on a bad size.
 */
export function edgeIndexes(size: number): number[] {
  checkIndex('size', size);
  return subTreeIndex(0, size, []);
}

/**
 * The root of a tree from its edge (the hashes at {@link edgeIndexes}, largest
 * subtree first), folded from the right by RFC 9162 §2.1.1; SHA-256("") for
 * an empty edge. Throws TypeError/RangeError if a hash is not 32 bytes.
 */
export function rootFromEdge(edge: readonly Hash[]): Hash {
  for (const h of edge) checkHash('edge', h);
  if (edge.length === 0) return EMPTY_ROOT.slice();
  let h = edge[edge.length - 1]!;
  for (let i = edge.length - 2; i >= 0; i--) h = nodeHash(edge[i]!, h);
  return h;
}

/**
 * The RFC 9162 §2.1.1 Merkle Tree Hash of the first `size` leaves; the empty
 * tree's hash SHA-256("") for size 0. Reads at most 1 + log2(size) hashes in
 * one call. Throws TypeError/RangeError on a bad size, and whatever `reader`
 * throws (for example when `size` exceeds the stored tree).
 */
export function treeHash(size: number, reader: HashReader): Hash {
  checkIndex('size', size);
  if (size === 0) return EMPTY_ROOT.slice();
  const hashes = read(reader, subTreeIndex(0, size, []));
  return subTreeHash(0, size, hashes, 0)[0];
}

// ---- Inclusion proofs, RFC 9162 §2.1.3. ----

function leafProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (lo + 1 === hi) return need;
  const [k] = maxPow2(hi - lo);
  if (n < lo + k) {
    leafProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    leafProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function leafProof(lo: number, hi: number, n: number, hashes: Hash[], at: number, out: Hash[]): number {
  // PATH(m, D[n]), RFC 9162 §2.1.3.1: empty at a leaf; otherwise the path in
  // the side holding m, followed by the hash of the other side.
  if (lo + 1 === hi) return at;
  const [k] = maxPow2(hi - lo);
  let th: Hash;
  if (n < lo + k) {
    at = leafProof(lo, lo + k, n, hashes, at, out);
    [th, at] = subTreeHash(lo + k, hi, hashes, at);
  } else {
    [th, at] = subTreeHash(lo, lo + k, hashes, at);
    at = leafProof(lo + k, hi, n, hashes, at, out);
  }
  out.push(th);
  return at;
}

/**
 * The inclusion proof (audit path, RFC 9162 §2.1.3.1 PATH) of the leaf at
 * `index` in the tree of `size` leaves, leaf-side hash first. Empty for a
 * tree of one leaf. One `readHashes` call.
 *
 * Throws OutOfRangeError if `index >= size`, TypeError/RangeError on a bad
 * number, and whatever `reader` throws.
 */
export function proveInclusion(index: number, size: number, reader: HashReader): Hash[] {
  checkIndex('index', index);
  checkIndex('size', size);
  if (index >= size) throw new OutOfRangeError(`index ${index} is not in a tree of size ${size}`);
  const hashes = read(reader, leafProofIndex(0, size, index, []));
  const out: Hash[] = [];
  leafProof(0, size, index, hashes, 0, out);
  return out;
}

/**
 * The inclusion proofs of several leaves of one tree at once, each exactly
 * what {@link proveInclusion} gives for it, in the order of `indexes`. The
 * RFC 9162 §2.1.3.1 recursion runs once over the whole set: a subtree's
 * hash that several proofs need (every sibling above a batch of
 * neighbouring leaves) is read or computed once, and the same Hash object
 * is shared by those proofs. For a batch of b neighbouring leaves that costs
 * about b + log2(size)² hash reads and computations instead of
 * b × log2(size). One `readHashes` call.
 *
 * Throws OutOfRangeError if an index is not below `size`, TypeError/
 * RangeError on a bad number, and whatever `reader` throws.
 */
export function proveInclusions(indexes: readonly number[], size: number, reader: HashReader): Hash[][] {
  checkIndex('size', size);
  for (const index of indexes) {
    checkIndex('index', index);
    if (index >= size) throw new OutOfRangeError(`index ${index} is not in a tree of size ${size}`);
  }
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const proofs = new Map<number, Hash[]>(sorted.map((i) => [i, []]));
  if (sorted.length > 0) {
    const hashes = read(reader, leavesProofIndex(0, size, sorted, 0, sorted.length, []));
    leavesProof(0, size, sorted, 0, sorted.length, hashes, 0, proofs);
  }
  return indexes.map((i) => proofs.get(i)!.slice());
}

/** The stored indexes leavesProof reads for `ns[from:to]` (sorted, in [lo, hi)), in the order it reads them. */
function leavesProofIndex(lo: number, hi: number, ns: number[], from: number, to: number, need: number[]) {
  if (lo + 1 === hi) return need;
  const [k] = maxPow2(hi - lo);
  const split = splitAt(ns, from, to, lo + k);
  if (split > from) {
    leavesProofIndex(lo, lo + k, ns, from, split, need);
    subTreeIndex(lo + k, hi, need);
  }
  if (split < to) {
    subTreeIndex(lo, lo + k, need);
    leavesProofIndex(lo + k, hi, ns, split, to, need);
  }
  return need;
}

/** PATH (RFC 9162 §2.1.3.1) for every index of `ns[from:to]`, pushed leaf side first onto `proofs`. */
function leavesProof(
  lo: number,
  hi: number,
  ns: number[],
  from: number,
  to: number,
  hashes: Hash[],
  at: number,
  proofs: Map<number, Hash[]>,
): number {
  if (lo + 1 === hi) return at;
  const [k] = maxPow2(hi - lo);
  const split = splitAt(ns, from, to, lo + k);
  let th: Hash;
  if (split > from) {
    at = leavesProof(lo, lo + k, ns, from, split, hashes, at, proofs);
    [th, at] = subTreeHash(lo + k, hi, hashes, at);
    for (let i = from; i < split; i++) proofs.get(ns[i]!)!.push(th);
  }
  if (split < to) {
    [th, at] = subTreeHash(lo, lo + k, hashes, at);
    at = leavesProof(lo + k, hi, ns, split, to, hashes, at, proofs);
    for (let i = split; i < to; i++) proofs.get(ns[i]!)!.push(th);
  }
  return at;
}

/** The first position in sorted `ns[from:to]` whose value is at least `bound` (binary search). */
function splitAt(ns: number[], from: number, to: number, bound: number): number {
  while (from < to) {
    const mid = (from + to) >>> 1;
    if (ns[mid]! < bound) from = mid + 1;
    else to = mid;
  }
  return from;
}

function isProofHash(h: unknown): boolean {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function checkProofArgs(proof: readonly Hash[], ...hashes: Hash[]): void {
  if (!Array.isArray(proof)) throw new TypeError('proof: expected an array');
  for (const h of [...proof, ...hashes])
    if (!(h instanceof Uint8Array)) throw new TypeError('expected Uint8Array hashes');
  // Hashes of the wrong length come from untrusted input: the proof fails.
  for (const h of [...proof, ...hashes]) if (!isProofHash(h)) throw new ProofError();
}

/**
 * Verifies that `proof` shows the leaf hash `leafHash` at `index` in the tree
 * of `size` leaves whose root is `root`, by the algorithm of RFC 9162
 * §2.1.3.2 exactly. Returns normally if it does.
 *
 * Throws ProofError if it does not (including `index >= size`, a proof of the
 * wrong length, and any hash that is not 32 bytes); TypeError/RangeError if
 * `index` or `size` is not a non-negative safe integer or a hash is not a
 * Uint8Array.
 */
export function verifyInclusion(
  leafHash: Hash,
  index: number,
  size: number,
  root: Hash,
  proof: readonly Hash[],
): void {
  checkIndex('index', index);
  checkIndex('size', size);
  checkProofArgs(proof, leafHash, root);
  // RFC 9162 §2.1.3.2 step 1: leaf_index >= tree_size fails.
  if (index >= size) throw new ProofError();
  // Step 2-3.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  // Step 4.
  for (const p of proof) {
    if (sn === 0) throw new ProofError(); // 4a
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r); // 4b.i
      if (fn % 2 === 0) {
        // 4b.ii: right-shift both until LSB(fn) is set or fn is 0.
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); // 4c
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  if (sn !== 0 || !equalBytes(r, root)) throw new ProofError();
}

// ---- Consistency proofs, RFC 9162 §2.1.4. ----

function treeProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  if (n === hi) {
    if (lo === 0) return need;
    return subTreeIndex(lo, hi, need);
  }
  const [k] = maxPow2(hi - lo);
  if (n <= lo + k) {
    treeProofIndex(lo, lo + k, n, need);
    subTreeIndex(lo + k, hi, need);
  } else {
    subTreeIndex(lo, lo + k, need);
    treeProofIndex(lo + k, hi, n, need);
  }
  return need;
}

function treeProof(lo: number, hi: number, n: number, hashes: Hash[], at: number, out: Hash[]): number {
  // SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1.
  if (n === hi) {
    // m == n: empty if this is the old tree itself (b true), else MTH(D[n]).
    if (lo === 0) return at;
    const [th, next] = subTreeHash(lo, hi, hashes, at);
    out.push(th);
    return next;
  }
  const [k] = maxPow2(hi - lo);
  let th: Hash;
  if (n <= lo + k) {
    at = treeProof(lo, lo + k, n, hashes, at, out);
    [th, at] = subTreeHash(lo + k, hi, hashes, at);
  } else {
    [th, at] = subTreeHash(lo, lo + k, hashes, at);
    at = treeProof(lo + k, hi, n, hashes, at, out);
  }
  out.push(th);
  return at;
}

/**
 * The consistency proof (RFC 9162 §2.1.4.1 PROOF) that the tree of `size2`
 * leaves extends the tree of `size1` leaves. Empty when the sizes are equal.
 * One `readHashes` call.
 *
 * Throws OutOfRangeError unless `1 <= size1 <= size2` (a proof from size 0 is
 * meaningless, DESIGN.md), TypeError/RangeError on a bad number, and whatever
 * `reader` throws.
 */
export function proveConsistency(size1: number, size2: number, reader: HashReader): Hash[] {
  checkIndex('size1', size1);
  checkIndex('size2', size2);
  if (size1 < 1 || size1 > size2) {
    throw new OutOfRangeError(`no consistency proof from size ${size1} to size ${size2}`);
  }
  const hashes = read(reader, treeProofIndex(0, size2, size1, []));
  const out: Hash[] = [];
  treeProof(0, size2, size1, hashes, 0, out);
  return out;
}

function isPowerOfTwo(x: number): boolean {
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}

/**
 * Verifies that `proof` shows the tree of `size2` leaves with root `root2`
 * extends the tree of `size1` leaves with root `root1`, by RFC 9162 §2.1.4.2
 * with the conventions of transparency-dev/merkle (DESIGN.md): equal sizes
 * verify only with an empty proof and equal roots; size1 = 0 is rejected
 * (including 0 → 0: a proof from the empty tree is meaningless); size1 > size2
 * is rejected. Returns normally if the proof verifies.
 *
 * Throws ProofError if it does not (including any hash that is not 32 bytes);
 * TypeError/RangeError if a size is not a non-negative safe integer or a hash
 * is not a Uint8Array.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Hash,
  root2: Hash,
  proof: readonly Hash[],
): void {
  checkIndex('size1', size1);
  checkIndex('size2', size2);
  checkProofArgs(proof, root1, root2);
  if (size1 > size2 || size1 === 0) throw new ProofError();
  if (size1 === size2) {
    if (proof.length !== 0 || !equalBytes(root1, root2)) throw new ProofError();
    return;
  }
  // RFC 9162 §2.1.4.2 step 1: an empty path fails.
  if (proof.length === 0) throw new ProofError();
  // Step 2: if first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Step 3.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // Step 4: while LSB(fn) is set, right-shift both.
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new ProofError(); // 6a
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr); // 6b.i
      sr = nodeHash(c, sr); // 6b.ii
      if (fn % 2 === 0) {
        // 6b.iii: right-shift both until LSB(fn) is set or fn is 0.
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); // 6c
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  if (sn !== 0 || !equalBytes(fr, root1) || !equalBytes(sr, root2)) throw new ProofError();
}

// ---- In-memory store. ----

/**
 * An in-memory stored-hash store, for tests and small logs: keeps every
 * stored hash (about two per leaf). `readHashes` throws OutOfRangeError for
 * an index that is not stored, so an algorithm that asks for a hash outside
 * the tree fails loudly (like Go's test store panicking).
 */
export class MemoryHashStore implements HashReader {
  /** Stored hashes packed in chunks of CHUNK hashes (one allocation per chunk, not per hash). */
  readonly #chunks: Uint8Array[] = [];
  #count = 0;
  #size = 0;

  /** Number of leaves appended. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends a leaf hash (copied) and the subtree hashes it completes; returns
   * the leaf's index. Throws TypeError/RangeError if it is not 32 bytes.
   */
  append(leafHash: Hash): number {
    checkHash('leafHash', leafHash);
    const index = this.#size;
    for (const h of storedHashes(index, leafHash, this)) this.#push(h);
    this.#size++;
    return index;
  }

  #push(h: Hash): void {
    const chunk = Math.floor(this.#count / HASHES_PER_CHUNK);
    if (chunk === this.#chunks.length) this.#chunks.push(new Uint8Array(HASHES_PER_CHUNK * HASH_SIZE));
    this.#chunks[chunk]!.set(h, (this.#count % HASHES_PER_CHUNK) * HASH_SIZE);
    this.#count++;
  }

  /** See {@link HashReader}. Throws OutOfRangeError for an index that is not stored. */
  readHashes(indexes: readonly number[]): Hash[] {
    return indexes.map((i) => {
      if (!(Number.isSafeInteger(i) && i >= 0 && i < this.#count))
        throw new OutOfRangeError(`stored hash ${i} is not in the store`);
      const at = (i % HASHES_PER_CHUNK) * HASH_SIZE;
      return this.#chunks[Math.floor(i / HASHES_PER_CHUNK)]!.slice(at, at + HASH_SIZE);
    });
  }
}

/** Stored hashes per chunk of a MemoryHashStore (2 MiB). */
const HASHES_PER_CHUNK = 65_536;
