/**
 * Ed25519 on node:crypto (OpenSSL), for the services' hot paths: verification
 * is about an order of magnitude faster than pure JS. Installed with
 * `setEd25519Backend(nativeEd25519)`; results are identical to the portable
 * backend (RFC 8032), which a test checks.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { nobleEd25519, type Ed25519Backend } from '../../ledger/ed25519.js';
import { evictOldest } from '../../ledger/lru.js';

/** Bounded cache of parsed public keys: the same credential and role keys verify many times. */
const publicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE = 16_384;

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('base64');
  let key = publicKeys.get(id);
  if (!key) {
    // JWK import: OpenSSL's DER (SPKI) decoder costs about as much as a verification.
    key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
      format: 'jwk',
    });
    publicKeys.set(id, key);
    evictOldest(publicKeys, PUBLIC_KEY_CACHE);
  }
  return key;
}

/**
 * Keys derived from seeds, cached: signers (the log, and clients such as
 * `urna demo` that sign many records) use few seeds many times. A public key
 * is derived once (portable backend); the private KeyObject is imported as a
 * JWK, which costs far less than OpenSSL's PKCS#8 DER decoder.
 */
const seeds = new Map<string, { publicKey: Uint8Array; privateKey?: KeyObject }>();
const SEED_CACHE = 100_000;

function seedEntry(seed: Uint8Array) {
  const id = Buffer.from(seed).toString('base64');
  let e = seeds.get(id);
  if (!e) {
    e = { publicKey: nobleEd25519.publicKey(seed) };
    seeds.set(id, e);
    evictOldest(seeds, SEED_CACHE);
  }
  return e;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  const e = seedEntry(seed);
  e.privateKey ??= createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(seed).toString('base64url'),
      x: Buffer.from(e.publicKey).toString('base64url'),
    },
    format: 'jwk',
  });
  return e.privateKey;
}

export const nativeEd25519: Ed25519Backend = {
  publicKey: (seed) => seedEntry(seed).publicKey.slice(),
  sign(message, seed) {
    return new Uint8Array(sign(null, message, privateKeyObject(seed)));
  },
  verify(signature, message, publicKey) {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return verify(null, message, publicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
};
