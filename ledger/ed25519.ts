/**
 * Ed25519 (RFC 8032) for signed notes, cosignatures and records.
 *
 * The default backend is @noble/ed25519 (pure JS, runs in a browser). A Node
 * service may install a native backend with `setEd25519Backend` (node:crypto's
 * verify is an order of magnitude faster); the core never imports it itself.
 * A platform whose native verify is asynchronous (WebCrypto in a browser)
 * installs a backend with `verifyAsync`, and readers wrap their synchronous
 * checks in {@link verifiedAhead} so that those checks use it.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { equalBytes, toHex } from './bytes.js';

ed.hashes.sha512 = sha512;

/** The operations the core needs. Keys are 32-byte seeds and 32-byte public keys. */
export interface Ed25519Backend {
  publicKey(seed: Uint8Array): Uint8Array;
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  /** Returns false (never throws) for a malformed key or signature. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** The same verdict as `verify`, from an asynchronous native verifier (WebCrypto); see {@link verifiedAhead}. */
  verifyAsync?(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
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

/**
 * Runs the synchronous `check` (pure: it may run more than once) with the
 * signatures it verifies checked by the backend's `verifyAsync`, all at
 * once, when the backend has one; otherwise just runs it. A first pass
 * records what `check` asks to verify (answering "valid", its outcome
 * dropped), those signatures are verified concurrently, and a second pass
 * answers each from those verdicts, matched on signature, key and message
 * bytes; anything the first pass did not ask goes to the synchronous
 * `verify`. So the result, or the error thrown, is always what `check`
 * gives with the synchronous backend.
 */
export async function verifiedAhead<T>(check: () => T): Promise<T> {
  const base = backend;
  if (!base.verifyAsync) return check();
  const asked: Array<[signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array]> = [];
  backend = { ...base, verify: (s, m, k) => (asked.push([s, m, k]), true) };
  try {
    check();
  } catch {
    // The second pass throws whatever is wrong, with the real verdicts.
  } finally {
    backend = base;
  }
  const verdicts = await Promise.all(asked.map(([s, m, k]) => base.verifyAsync!(s, m, k)));
  const bySignature = new Map<string, number[]>();
  asked.forEach(([s], i) => {
    const id = toHex(s);
    bySignature.set(id, [...(bySignature.get(id) ?? []), i]);
  });
  backend = {
    ...base,
    verify(s, m, k) {
      const i = (bySignature.get(toHex(s)) ?? []).find(
        (j) => equalBytes(asked[j]![2], k) && equalBytes(asked[j]![1], m),
      );
      return i === undefined ? base.verify(s, m, k) : verdicts[i]!;
    },
  };
  try {
    return check();
  } finally {
    backend = base;
  }
}

/** 32 random bytes from the platform CSPRNG (WebCrypto, in browsers and Node). */
export function randomSeed(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
