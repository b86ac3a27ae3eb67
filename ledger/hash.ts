/**
 * RFC 9162 §2.1.1 Merkle tree hashing over SHA-256.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;

/** A 32-byte SHA-256 hash. */
export type Hash = Uint8Array;

/** SHA-256 of `data`. */
export function hash(data: Uint8Array): Hash {
  return sha256(data);
}

/** The root of the empty tree: SHA-256(""), RFC 9162 §2.1.1. */
export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

/** Leaf hash: SHA-256(0x00 || entry), RFC 9162 §2.1.1. */
export function leafHash(entry: Uint8Array): Hash {
  const buf = new Uint8Array(1 + entry.length);
  buf[0] = 0x00;
  buf.set(entry, 1);
  return sha256(buf);
}

/** Interior node hash: SHA-256(0x01 || left || right), RFC 9162 §2.1.1. */
export function nodeHash(left: Hash, right: Hash): Hash {
  const buf = new Uint8Array(1 + 2 * HASH_SIZE);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha256(buf);
}
