/**
 * ledger/encrypted-contest.ts: a voter's contest encrypted and proven,
 * verified; a ballot that encrypts 2 for a 0/1 option, a contest over its
 * limit, a ciphertext copied under another credential, options reordered:
 * each refused; a spoiled contest opens to the stated choices, and nonces
 * that are not its own open nothing.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import { encrypt, proveRange } from '../../ledger/elgamal.js';
import {
  encryptContest,
  encryptedContestFromJson,
  encryptedContestToJson,
  openContest,
  verifyContest,
  type ContestShape,
} from '../../ledger/encrypted-contest.js';
import { hash } from '../../ledger/hash.js';
import { G, hashToScalar, mod, mul } from '../../ledger/group.js';

function stream(label: string): () => bigint {
  let i = 0;
  return () => hashToScalar('test/stream', [utf8(label), utf8(String(i++))]);
}

const K = mul(G, hashToScalar('test/key', [utf8('contest key')]));
const ballot = { election: hash(utf8('election record')), credential: hash(utf8('voter 1')) };
const riksdag: ContestShape = {
  id: 'riksdag',
  options: ['s', 'm', 'sd', 'c'],
  optionLimit: 1,
  selectionLimit: 1,
};

describe('an encrypted contest', () => {
  it('verifies for one choice and for a blank vote', () => {
    for (const choices of [{ m: 1 }, {}] as Array<{ [option: string]: number }>) {
      const { encrypted } = encryptContest(riksdag, choices, K, ballot, stream('honest'));
      expect(verifyContest(riksdag, encrypted, K, ballot)).toBe(true);
    }
  });

  it('cannot be made over the limit or for an option the contest lacks', () => {
    expect(() => encryptContest(riksdag, { s: 1, m: 1 }, K, ballot)).toThrow(/over its limit/);
    expect(() => encryptContest(riksdag, { s: 2 }, K, ballot)).toThrow(RangeError);
    expect(() => encryptContest(riksdag, { v: 1 }, K, ballot)).toThrow(/no option v/);
  });

  it('is refused when an option encrypts 2 (a 0/1 option), whatever proof comes with it', () => {
    const r = stream('two');
    const { encrypted } = encryptContest(riksdag, { s: 1 }, K, ballot, r);
    const nonce = r();
    const two = encrypt(2, nonce, K);
    const forged = { ...encrypted, options: [...encrypted.options] };
    forged.options[1] = {
      option: 'm',
      ciphertext: two,
      proof: proveRange(two, 1, nonce, 1, K, { ...ballot, contest: 'riksdag', option: 'm' }, r),
    };
    expect(verifyContest(riksdag, forged, K, ballot)).toBe(false);
  });

  it('is refused under another credential (a copied ciphertext), or with its options reordered', () => {
    const { encrypted } = encryptContest(riksdag, { sd: 1 }, K, ballot, stream('copy'));
    expect(verifyContest(riksdag, encrypted, K, { ...ballot, credential: hash(utf8('voter 2')) })).toBe(
      false,
    );
    const swapped = {
      ...encrypted,
      options: [encrypted.options[1]!, encrypted.options[0]!, ...encrypted.options.slice(2)],
    };
    expect(verifyContest(riksdag, swapped, K, ballot)).toBe(false);
    expect(verifyContest({ ...riksdag, id: 'region' }, encrypted, K, ballot)).toBe(false);
  });

  it('opens, spoiled, to the choices it encrypted; other nonces open nothing', () => {
    const { encrypted, nonces } = encryptContest(riksdag, { c: 1 }, K, ballot, stream('spoil'));
    expect(openContest(riksdag, encrypted, nonces, K)).toEqual({ s: 0, m: 0, sd: 0, c: 1 });
    const wrong = [...nonces];
    wrong[0] = mod(wrong[0]! + 1n);
    expect(openContest(riksdag, encrypted, wrong, K)).toBeNull();
    expect(openContest(riksdag, encrypted, nonces.slice(1), K)).toBeNull();
  });

  it('admits approval voting: several options up to the selection limit', () => {
    const approval: ContestShape = {
      id: 'board',
      options: ['a', 'b', 'c'],
      optionLimit: 1,
      selectionLimit: 3,
    };
    const { encrypted, nonces } = encryptContest(approval, { a: 1, c: 1 }, K, ballot, stream('approval'));
    expect(verifyContest(approval, encrypted, K, ballot)).toBe(true);
    expect(openContest(approval, encrypted, nonces, K)).toEqual({ a: 1, b: 0, c: 1 });
  });
});

describe('the JSON form', () => {
  const { encrypted } = encryptContest(riksdag, { s: 1 }, K, ballot, stream('json'));
  const json = JSON.parse(JSON.stringify(encryptedContestToJson(encrypted))) as ReturnType<
    typeof encryptedContestToJson
  >;

  it('round-trips through JSON text and still verifies', () => {
    const back = encryptedContestFromJson(json);
    expect(verifyContest(riksdag, back, K, ballot)).toBe(true);
    expect(encryptedContestToJson(back)).toEqual(json);
  });

  it('refuses a non-canonical element, a scalar not below L, bad base64 and wrong shapes, naming the field', () => {
    const with_ = (edit: (j: typeof json) => void) => {
      const j = structuredClone(json);
      edit(j);
      return () => encryptedContestFromJson(j);
    };
    // RFC 9496 A.2: a non-canonical field element.
    const bad = toBase64(fromHex('00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'));
    expect(with_((j) => (j.options[0]!.alpha = bad))).toThrow(/options\[0\]\.alpha: not a canonical/);
    expect(with_((j) => (j.sumProof.commitments[1] = bad))).toThrow(/sumProof\.commitments\[1\]/);
    const l = toBase64(fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010')); // L itself
    expect(with_((j) => (j.options[2]!.proof.challenges[0] = l))).toThrow(/non-canonical/);
    expect(with_((j) => (j.options[0]!.beta = 'not base64!'))).toThrow(MalformedError);
    expect(with_((j) => ((j.options[0] as { option: unknown }).option = 5))).toThrow(MalformedError);
    expect(with_((j) => (j.sumProof.responses = Array(66).fill(j.sumProof.responses[0]!)))).toThrow(
      /at most 65/,
    );
    expect(() => encryptedContestFromJson(null)).toThrow(MalformedError);
    expect(() => encryptedContestFromJson({ contest: 'x', options: 'no' })).toThrow(MalformedError);
  });
});
