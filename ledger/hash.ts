/**
 * RFC 9162 §2.1.1 Merkle tree hashing over SHA-256.
 *
 * The default SHA-256 is @noble/hashes (pure JS, runs in a browser). A Node
 * service may install a native one with `setSha256Backend` (node:crypto is
 * several times faster on kilobyte-sized entries); results are identical.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';

/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;

/** A 32-byte SHA-256 hash. */
export type Hash = Uint8Array;

/** SHA-256 over the concatenation of `parts`. */
export type Sha256Backend = (...parts: Uint8Array[]) => Hash;

/** The portable backend: @noble/hashes, hashing the parts in place (no copy). */
export const nobleSha256: Sha256Backend = (...parts) => {
  if (parts.length === 1) return noble(parts[0]!);
  const h = noble.create();
  for (const p of parts) h.update(p);
  return h.digest();
};

let sha256: Sha256Backend = nobleSha256;

/** Replaces the SHA-256 backend for this process (e.g. node:crypto in services). */
export function setSha256Backend(impl: Sha256Backend): void {
  sha256 = impl;
}

/** SHA-256 of `data`. */
export function hash(data: Uint8Array): Hash {
  return sha256(data);
}

/** The root of the empty tree: SHA-256(""), RFC 9162 §2.1.1. */
export const EMPTY_ROOT: Hash = nobleSha256(new Uint8Array(0));

const LEAF_PREFIX = Uint8Array.of(0x00);

/** Leaf hash: SHA-256(0x00 || entry), RFC 9162 §2.1.1. Hashes in place (no copy of the entry). */
export function leafHash(entry: Uint8Array): Hash {
  return sha256(LEAF_PREFIX, entry);
}

/** Scratch buffer for nodeHash: safe to share, since hashing is synchronous. */
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** Interior node hash: SHA-256(0x01 || left || right), RFC 9162 §2.1.1. */
export function nodeHash(left: Hash, right: Hash): Hash {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}
