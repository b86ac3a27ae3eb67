/**
 * Ed25519 (RFC 8032) for signed notes, cosignatures and records.
 *
 * The default backend is @noble/ed25519 (pure JS, runs in a browser). A Node
 * service may install a native backend with `setEd25519Backend` (node:crypto's
 * verify is an order of magnitude faster); the core never imports it itself.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;

/** The operations the core needs. Keys are 32-byte seeds and 32-byte public keys. */
export interface Ed25519Backend {
  publicKey(seed: Uint8Array): Uint8Array;
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  /** Returns false (never throws) for a malformed key or signature. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/** The portable backend: @noble/ed25519, strict RFC 8032 verification (zip215: false). */
export const nobleEd25519: Ed25519Backend = {
  publicKey: (seed) => ed.getPublicKey(seed),
  sign: (message, seed) => ed.sign(message, seed),
  verify(signature, message, publicKey) {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return ed.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

let backend: Ed25519Backend = nobleEd25519;

/** Replaces the backend for this process (e.g. node:crypto in services). */
export function setEd25519Backend(impl: Ed25519Backend): void {
  backend = impl;
}

/** The backend in use. */
export function ed25519(): Ed25519Backend {
  return backend;
}

/** 32 random bytes from the platform CSPRNG (WebCrypto, in browsers and Node). */
export function randomSeed(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
