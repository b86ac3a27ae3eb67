/**
 * ledger/guardian.ts: three guardians with a quorum of two. Key proofs
 * verify and fail when changed; shares check against the commitments and a
 * wrong share does not; any two guardians decrypt a homomorphic sum of
 * encrypted votes to its count, a missing guardian changes nothing; a
 * cheating guardian's partial decryption is refused by its proof (and,
 * unchecked, would give the wrong count); a pinned known answer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../ledger/bytes.js';
import { addCiphertexts, encrypt } from '../../ledger/elgamal.js';
import {
  combine,
  communicationKey,
  decryptShare,
  electionKey,
  encryptShare,
  guardianKey,
  guardianSecret,
  keyShare,
  keyShareImage,
  lagrange,
  partialDecrypt,
  shareFor,
  verifyCommunicationKey,
  verifyGuardianKey,
  verifyPartialDecryption,
  verifyShare,
} from '../../ledger/guardian.js';
import { hash } from '../../ledger/hash.js';
import { encodeElement, encodeScalar, G, hashToScalar, L, mod, mul } from '../../ledger/group.js';

function stream(label: string): () => bigint {
  let i = 0;
  return () => hashToScalar('test/stream', [utf8(label), utf8(String(i++))]);
}

const election = hash(utf8('election record'));
const random = stream('guardians');
const secrets = [1, 2, 3].map((i) => guardianSecret(i, 2, random));
const keys = secrets.map((s) => guardianKey(s, election, random));
const K = electionKey(keys);
// Each guardian's key share from the shares the others (and itself) give it.
const shares = [1, 2, 3].map((l) => keyShare(secrets.map((s) => shareFor(s, l))));

describe('key generation', () => {
  it('proves knowledge of every coefficient; a changed proof or commitment fails', () => {
    for (const k of keys) expect(verifyGuardianKey(k, 2, election)).toBe(true);
    const k = keys[0]!;
    expect(
      verifyGuardianKey(
        { ...k, proofs: [{ ...k.proofs[0]!, response: mod(k.proofs[0]!.response + 1n) }, k.proofs[1]!] },
        2,
        election,
      ),
    ).toBe(false);
    expect(
      verifyGuardianKey({ ...k, commitments: [k.commitments[0]!.add(G), k.commitments[1]!] }, 2, election),
    ).toBe(false);
    expect(verifyGuardianKey({ ...k, index: 2 }, 2, election)).toBe(false); // bound to its index
    expect(verifyGuardianKey(k, 2, hash(utf8('another election')))).toBe(false);
    expect(verifyGuardianKey(k, 3, election)).toBe(false);
  });

  it('gives shares that check against the commitments; a wrong one does not', () => {
    for (const s of secrets)
      for (const l of [1, 2, 3]) expect(verifyShare(keys[s.index - 1]!, l, shareFor(s, l))).toBe(true);
    expect(verifyShare(keys[0]!, 2, mod(shareFor(secrets[0]!, 2) + 1n))).toBe(false);
    expect(verifyShare(keys[0]!, 2, shareFor(secrets[0]!, 3))).toBe(false);
  });

  it('makes the election key the sum of the constant terms, and each key share match its public image', () => {
    const s = mod(secrets.reduce((a, x) => a + x.coefficients[0]!, 0n));
    expect(K.equals(mul(G, s))).toBe(true);
    for (const l of [1, 2, 3]) expect(mul(G, shares[l - 1]!).equals(keyShareImage(keys, l))).toBe(true);
    // Any two shares interpolate the election secret.
    expect(mod(lagrange(1, [1, 3]) * shares[0]! + lagrange(3, [1, 3]) * shares[2]!)).toBe(s);
  });
});

describe('shares in transit', () => {
  const zetas = [1, 2, 3].map((i) => hashToScalar('test/comm', [utf8(String(i))]));
  const comm = zetas.map((z, i) => communicationKey(i + 1, z, election, random));

  it('proves each communication key; a changed one fails', () => {
    for (const k of comm) expect(verifyCommunicationKey(k, election)).toBe(true);
    expect(verifyCommunicationKey({ ...comm[0]!, key: comm[0]!.key.add(G) }, election)).toBe(false);
    expect(verifyCommunicationKey({ ...comm[0]!, index: 2 }, election)).toBe(false);
  });

  it('opens only for its recipient, and the share it carries checks against the commitments', () => {
    const share = shareFor(secrets[0]!, 2);
    const e = encryptShare(share, 1, comm[1]!, election, random);
    const opened = decryptShare(e, zetas[1]!, election);
    expect(opened).toBe(share);
    expect(verifyShare(keys[0]!, 2, opened!)).toBe(true);
    expect(decryptShare(e, zetas[2]!, election)).toBeNull(); // guardian 3 cannot
    expect(decryptShare({ ...e, to: 3 }, zetas[2]!, election)).toBeNull();
  });

  it('refuses a changed ciphertext, MAC, sender or election', () => {
    const e = encryptShare(shareFor(secrets[2]!, 1), 3, comm[0]!, election, random);
    const flipped = (b: Uint8Array) => b.map((x, i) => (i === 5 ? x ^ 1 : x));
    expect(decryptShare({ ...e, ciphertext: flipped(e.ciphertext) }, zetas[0]!, election)).toBeNull();
    expect(decryptShare({ ...e, mac: flipped(e.mac) }, zetas[0]!, election)).toBeNull();
    expect(decryptShare({ ...e, from: 2 }, zetas[0]!, election)).toBeNull();
    expect(decryptShare(e, zetas[0]!, hash(utf8('another election')))).toBeNull();
    expect(decryptShare({ ...e, alpha: e.alpha.add(G) }, zetas[0]!, election)).toBeNull();
  });

  it('a share that opens but breaks the commitments names its sender', () => {
    const wrong = mod(shareFor(secrets[0]!, 3) + 1n);
    const e = encryptShare(wrong, 1, comm[2]!, election, random);
    const opened = decryptShare(e, zetas[2]!, election);
    expect(opened).toBe(wrong);
    expect(verifyShare(keys[0]!, 3, opened!)).toBe(false);
  });
});

describe('threshold decryption', () => {
  const r = stream('votes');
  const votes = [1, 0, 1, 1, 0, 1, 1];
  const tally = addCiphertexts(votes.map((v) => encrypt(v, r(), K)));
  const partial = (l: number) => partialDecrypt(tally, l, shares[l - 1]!, election, r);

  it('any two of three guardians decrypt the sum to its count; the third may be absent', () => {
    for (const pair of [
      [1, 2],
      [1, 3],
      [2, 3],
    ]) {
      const parts = pair.map(partial);
      for (const p of parts)
        expect(verifyPartialDecryption(tally, p, keyShareImage(keys, p.index), election)).toBe(true);
      expect(combine(tally, parts, K, 100)).toBe(5);
    }
    expect(combine(tally, [1, 2, 3].map(partial), K, 100)).toBe(5); // all three, too
  });

  it('names a cheating guardian: its proof fails, and its share would give a wrong count', () => {
    const honest = partial(2);
    const cheat = { ...honest, share: honest.share.add(G) };
    expect(verifyPartialDecryption(tally, cheat, keyShareImage(keys, 2), election)).toBe(false);
    // A proof made with another secret does not pass either.
    const forged = partialDecrypt(tally, 2, mod(shares[1]! + 1n), election, r);
    expect(verifyPartialDecryption(tally, forged, keyShareImage(keys, 2), election)).toBe(false);
    expect(() => combine(tally, [partial(1), cheat], K, 100)).toThrow(RangeError);
    // Refused, it is replaced by the third guardian.
    expect(combine(tally, [partial(1), partial(3)], K, 100)).toBe(5);
  });

  it('refuses one guardian alone (below the quorum) and a guardian twice', () => {
    expect(() => combine(tally, [partial(1)], K, 100)).toThrow(RangeError);
    expect(() => combine(tally, [partial(1), partial(1)], K, 100)).toThrow(/twice/);
  });

  it('rejects out-of-range proof scalars', () => {
    const p = partial(1);
    expect(
      verifyPartialDecryption(
        tally,
        { ...p, proof: { ...p.proof, response: L } },
        keyShareImage(keys, 1),
        election,
      ),
    ).toBe(false);
  });
});

describe('known answers (test/vectors/urna-guardian.json)', () => {
  it('gives the pinned key ceremony and partial decryption', () => {
    const r = stream('kat');
    const ss = [1, 2, 3].map((i) => guardianSecret(i, 2, r));
    const ks = ss.map((s) => guardianKey(s, election, r));
    const key = electionKey(ks);
    const ct = encrypt(1, r(), key);
    const s1 = keyShare(ss.map((s) => shareFor(s, 1)));
    const d = partialDecrypt(ct, 1, s1, election, r);
    const hex = (e: Parameters<typeof encodeElement>[0]) => toHex(encodeElement(e));
    const got = {
      commitments: ks.map((k) => k.commitments.map(hex)),
      proofs: ks.map((k) =>
        k.proofs.map((p) => [toHex(encodeScalar(p.challenge)), toHex(encodeScalar(p.response))]),
      ),
      electionKey: hex(key),
      share: hex(d.share),
      proof: [toHex(encodeScalar(d.proof.challenge)), toHex(encodeScalar(d.proof.response))],
    };
    const file = new URL('../vectors/urna-guardian.json', import.meta.url);
    if (process.env.URNA_WRITE_VECTORS === '1') writeFileSync(file, JSON.stringify(got, null, 2) + '\n');
    expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});
