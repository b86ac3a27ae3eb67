/**
 * ledger/elgamal.ts: exponential ElGamal and the disjunctive Chaum-Pedersen
 * range proof. Honest proofs verify for every value of every range tried;
 * ciphertexts add; a proof fails for a changed scalar, ciphertext, key or
 * limit, under another credential, option, contest or election (a copied
 * ciphertext), and for an encryption of a value out of range (2 for a 0/1
 * option: no honest proof exists, and a proof for range 0…2 does not pass
 * as one for 0…1). A known-answer test with pinned randomness
 * (test/vectors/urna-elgamal.json) catches any change of encoding or hash
 * input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../ledger/bytes.js';
import {
  addCiphertexts,
  encrypt,
  proveRange,
  verifyRange,
  verifyRangeBatch,
  type Ciphertext,
  type ProofContext,
  type RangeProof,
} from '../../ledger/elgamal.js';
import { hash } from '../../ledger/hash.js';
import { encodeElement, encodeScalar, G, hashToScalar, L, mul, mulPublic } from '../../ledger/group.js';

/** A deterministic scalar stream (for pinned proofs): H("test/stream", label, i). */
function stream(label: string): () => bigint {
  let i = 0;
  return () => hashToScalar('test/stream', [utf8(label), utf8(String(i++))]);
}

const secret = hashToScalar('test/key', [utf8('election key')]);
const K = mul(G, secret);
const ctx: ProofContext = {
  election: hash(utf8('election record')),
  contest: 'riksdag',
  option: 's',
  credential: hash(utf8('voter credential')),
};

/** Decrypts a small value by search: σ·K = β − s·α. */
function decrypt(ct: Ciphertext, max = 100): number {
  const target = ct.beta.subtract(mul(ct.alpha, secret));
  for (let v = 0; v <= max; v++) if (mulPublic(K, BigInt(v)).equals(target)) return v;
  throw new Error('not a small value');
}

describe('encryption', () => {
  it('decrypts, and ciphertexts add to the sum of their values', () => {
    const r = stream('nonces');
    const cts = [3, 0, 1, 4].map((v) => encrypt(v, r(), K));
    expect(cts.map((c) => decrypt(c))).toEqual([3, 0, 1, 4]);
    expect(decrypt(addCiphertexts(cts))).toBe(8);
    expect(decrypt(addCiphertexts([]))).toBe(0);
  });
});

describe('range proofs', () => {
  it('verify for every value of 0…R, R = 0, 1, 2, 5', () => {
    const r = stream('honest');
    for (const limit of [0, 1, 2, 5])
      for (let v = 0; v <= limit; v++) {
        const nonce = r();
        const ct = encrypt(v, nonce, K);
        expect(verifyRange(ct, proveRange(ct, v, nonce, limit, K, ctx, r), limit, K, ctx)).toBe(true);
        expect(verifyRange(ct, proveRange(ct, v, nonce, limit, K, ctx), limit, K, ctx)).toBe(true); // CSPRNG
      }
  });

  const nonce = hashToScalar('test/nonce', []);
  const ct = encrypt(1, nonce, K);
  const proof = proveRange(ct, 1, nonce, 1, K, ctx, stream('one'));

  it('fail for any changed challenge or response', () => {
    for (const field of ['challenges', 'responses'] as const)
      for (let i = 0; i < 2; i++) {
        const changed: RangeProof = { ...proof, [field]: [...proof[field]] };
        changed[field][i] = (changed[field][i]! + 1n) % L;
        expect(verifyRange(ct, changed, 1, K, ctx)).toBe(false);
      }
  });

  it('fail for another ciphertext, key or limit, and for a malformed proof', () => {
    expect(verifyRange({ alpha: ct.alpha, beta: ct.beta.add(K) }, proof, 1, K, ctx)).toBe(false);
    expect(verifyRange({ alpha: ct.alpha.add(G), beta: ct.beta }, proof, 1, K, ctx)).toBe(false);
    expect(verifyRange(ct, proof, 1, K.add(G), ctx)).toBe(false);
    expect(verifyRange(ct, proof, 2, K, ctx)).toBe(false);
    expect(verifyRange(ct, { ...proof, responses: [] }, 1, K, ctx)).toBe(false);
    expect(verifyRange(ct, { ...proof, commitments: proof.commitments.slice(1) }, 1, K, ctx)).toBe(false);
    const moved = [...proof.commitments];
    moved[0] = moved[0]!.add(G);
    expect(verifyRange(ct, { ...proof, commitments: moved }, 1, K, ctx)).toBe(false);
    expect(verifyRange(ct, { ...proof, responses: [L, proof.responses[1]!] }, 1, K, ctx)).toBe(false);
  });

  it('bind the election, contest, option and credential: a copied ciphertext does not verify', () => {
    for (const other of [
      { ...ctx, credential: hash(utf8('another voter')) },
      { ...ctx, option: 'm' },
      { ...ctx, contest: 'region' },
      { ...ctx, election: hash(utf8('another election')) },
      { election: ctx.election, contest: ctx.contest, credential: ctx.credential }, // the contest-sum domain
    ])
      expect(verifyRange(ct, proof, 1, K, other)).toBe(false);
  });

  it('cannot be made for a value out of range, and a wider proof does not pass for a 0/1 option', () => {
    const two = encrypt(2, nonce, K);
    expect(() => proveRange(two, 2, nonce, 1, K, ctx)).toThrow(RangeError);
    const wide = proveRange(two, 2, nonce, 2, K, ctx, stream('wide'));
    expect(verifyRange(two, wide, 2, K, ctx)).toBe(true);
    expect(
      verifyRange(
        two,
        {
          commitments: wide.commitments.slice(0, 4),
          challenges: wide.challenges.slice(0, 2),
          responses: wide.responses.slice(0, 2),
        },
        1,
        K,
        ctx,
      ),
    ).toBe(false);
    // Claiming value 1 for an encryption of 2: the algebra fails, so the verifier refuses.
    expect(verifyRange(two, proveRange(two, 1, nonce, 1, K, ctx, stream('lie')), 1, K, ctx)).toBe(false);
  });
});

describe('batch verification', () => {
  const r = stream('batch');
  const statements = Array.from({ length: 12 }, (_, i) => {
    const limit = 1 + (i % 3);
    const value = i % (limit + 1);
    const nonce = r();
    const c = encrypt(value, nonce, K);
    const option = { ...ctx, option: `o${i}` };
    return { ct: c, proof: proveRange(c, value, nonce, limit, K, option, r), limit, key: K, ctx: option };
  });

  it('accepts a batch of honest proofs', () => {
    expect(verifyRangeBatch(statements)).toEqual(statements.map(() => true));
    expect(verifyRangeBatch([])).toEqual([]);
  });

  it('names the bad proofs: a changed response (its hash still holds) and a changed commitment', () => {
    const bad = statements.map((s) => ({ ...s, proof: { ...s.proof, responses: [...s.proof.responses] } }));
    bad[3]!.proof.responses[0] = (bad[3]!.proof.responses[0]! + 1n) % L; // only the equations catch it
    const moved = [...bad[7]!.proof.commitments];
    moved[1] = moved[1]!.add(G);
    bad[7] = { ...bad[7]!, proof: { ...bad[7]!.proof, commitments: moved } };
    expect(verifyRangeBatch(bad)).toEqual(statements.map((_, i) => i !== 3 && i !== 7));
  });
});

describe('known answers (test/vectors/urna-elgamal.json)', () => {
  it('gives the pinned encodings', () => {
    const r = stream('kat');
    const n = r();
    const c = encrypt(1, n, K);
    const p = proveRange(c, 1, n, 2, K, ctx, r);
    const got = {
      key: toHex(encodeElement(K)),
      alpha: toHex(encodeElement(c.alpha)),
      beta: toHex(encodeElement(c.beta)),
      commitments: p.commitments.map((e) => toHex(encodeElement(e))),
      challenges: p.challenges.map((x) => toHex(encodeScalar(x))),
      responses: p.responses.map((x) => toHex(encodeScalar(x))),
    };
    const file = new URL('../vectors/urna-elgamal.json', import.meta.url);
    if (process.env.URNA_WRITE_VECTORS === '1')
      writeFileSync(file, JSON.stringify({ rangeProof: got }, null, 2) + '\n');
    const want = (JSON.parse(readFileSync(file, 'utf8')) as { rangeProof: typeof got }).rangeProof;
    expect(got).toEqual(want);
    expect(verifyRange(c, p, 2, K, ctx)).toBe(true);
  });
});
