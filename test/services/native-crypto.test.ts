import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleEd25519 } from '../../ledger/ed25519.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { nativeSha256 } from '../../services/crypto/native-sha256.js';
import { nobleSha256 } from '../../ledger/hash.js';

describe('native Ed25519 backend', () => {
  it('agrees with the portable backend on keys, signatures and verification', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        (seed, msg) => {
          const pub = nobleEd25519.publicKey(seed);
          expect(nativeEd25519.publicKey(seed)).toEqual(pub);
          const sig = nobleEd25519.sign(msg, seed);
          expect(nativeEd25519.sign(msg, seed)).toEqual(sig);
          expect(nativeEd25519.verify(sig, msg, pub)).toBe(true);
          const bad = sig.slice();
          bad[0]! ^= 1;
          expect(nativeEd25519.verify(bad, msg, pub)).toBe(false);
          expect(nobleEd25519.verify(bad, msg, pub)).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns false, never throws, on malformed keys and signatures', () => {
    expect(nativeEd25519.verify(new Uint8Array(63), new Uint8Array(1), new Uint8Array(32))).toBe(false);
    expect(nativeEd25519.verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(31))).toBe(false);
    expect(nativeEd25519.verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(32).fill(255))).toBe(
      false,
    );
  });
});

describe('native SHA-256 backend', () => {
  it('agrees with the portable backend, one part or several', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }), (parts) => {
        expect(nativeSha256(...parts)).toEqual(nobleSha256(...parts));
      }),
      { numRuns: 200 },
    );
  });
});
