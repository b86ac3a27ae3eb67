/**
 * One contest of an encrypted ballot (docs/DESIGN.md "Encrypted ballots"):
 * one ciphertext per option, each with its range proof (0 … the option's
 * limit), and a range proof that their sum (whose nonce is the sum of
 * theirs) is within the contest's selection limit. Every proof binds the
 * election, the contest, the option (the sum proof: none) and the voter's
 * credential (ledger/elgamal.ts ProofContext).
 *
 * A Benaloh challenge spoils a ballot by revealing its nonces:
 * {@link openContest} recovers the choices from them, so anyone can check
 * that the encryption said what the voter chose.
 */
import { fromBase64, toBase64 } from './bytes.js';
import {
  addCiphertexts,
  encrypt,
  MAX_RANGE,
  proveRange,
  verifyRangeBatch,
  type Ciphertext,
  type ProofContext,
  type RangeProof,
  type RangeStatement,
} from './elgamal.js';
import { MalformedError } from './errors.js';
import {
  decodeElement,
  decodeScalar,
  encodeElement,
  encodeScalar,
  G,
  mod,
  mul,
  mulPublic,
  randomScalar,
  smallMultiple,
  type Element,
} from './group.js';

/** What a contest admits: its options, the most votes one option may get, and the most in all. */
export type ContestShape = {
  id: string;
  options: readonly string[];
  optionLimit: number;
  selectionLimit: number;
};

/** An encrypted contest (in the shape's option order). */
export type EncryptedContest = {
  contest: string;
  options: Array<{ option: string; ciphertext: Ciphertext; proof: RangeProof }>;
  sumProof: RangeProof;
};

/** Whom the proofs are for: the election's hash and the voter's credential (32 bytes each). */
export type BallotContext = { election: Uint8Array; credential: Uint8Array };

/**
 * Encrypts `choices` (votes per option id; absent options get 0) for the
 * contest `shape` under `key`, with proofs; returns the encryption and the
 * nonces (secret; revealed only to spoil the ballot). RangeError for a
 * choice over the option's limit, a total over the selection limit, or an
 * option the contest does not have.
 */
export function encryptContest(
  shape: ContestShape,
  choices: { [option: string]: number },
  key: Element,
  ballot: BallotContext,
  random: () => bigint = randomScalar,
): { encrypted: EncryptedContest; nonces: bigint[] } {
  for (const o of Object.keys(choices))
    if (!shape.options.includes(o)) throw new RangeError(`contest ${shape.id} has no option ${o}`);
  const values = shape.options.map((o) => choices[o] ?? 0);
  const total = values.reduce((a, v) => a + v, 0);
  if (total > shape.selectionLimit)
    throw new RangeError(`contest ${shape.id}: ${total} votes, over its limit of ${shape.selectionLimit}`);
  const nonces = values.map(() => random());
  const options = shape.options.map((option, i) => {
    const ciphertext = encrypt(values[i]!, nonces[i]!, key);
    const ctx: ProofContext = { ...ballot, contest: shape.id, option };
    return {
      option,
      ciphertext,
      proof: proveRange(ciphertext, values[i]!, nonces[i]!, shape.optionLimit, key, ctx, random),
    };
  });
  const sum = addCiphertexts(options.map((o) => o.ciphertext));
  const sumNonce = mod(nonces.reduce((a, n) => a + n, 0n));
  const sumProof = proveRange(
    sum,
    total,
    sumNonce,
    shape.selectionLimit,
    key,
    { ...ballot, contest: shape.id },
    random,
  );
  return { encrypted: { contest: shape.id, options, sumProof }, nonces };
}

/**
 * The range statements that make `enc` valid for `shape` (one per option,
 * and the sum's), for {@link verifyContest} or a batch over many ballots;
 * null if `enc` does not have the shape's options in its order.
 */
export function contestStatements(
  shape: ContestShape,
  enc: EncryptedContest,
  key: Element,
  ballot: BallotContext,
): RangeStatement[] | null {
  if (enc.contest !== shape.id || enc.options.length !== shape.options.length) return null;
  if (!enc.options.every((o, i) => o.option === shape.options[i])) return null;
  const statements: RangeStatement[] = enc.options.map((o) => ({
    ct: o.ciphertext,
    proof: o.proof,
    limit: shape.optionLimit,
    key,
    ctx: { ...ballot, contest: shape.id, option: o.option },
  }));
  statements.push({
    ct: addCiphertexts(enc.options.map((o) => o.ciphertext)),
    proof: enc.sumProof,
    limit: shape.selectionLimit,
    key,
    ctx: { ...ballot, contest: shape.id },
  });
  return statements;
}

/** Whether every proof of `enc` verifies for `shape`, `key` and this ballot (its statements in one batch). */
export function verifyContest(
  shape: ContestShape,
  enc: EncryptedContest,
  key: Element,
  ballot: BallotContext,
): boolean {
  const statements = contestStatements(shape, enc, key, ballot);
  return statements !== null && verifyRangeBatch(statements).every(Boolean);
}

/**
 * The choices a spoiled contest encrypted, from its revealed nonces: for
 * each option, α must be ξ·G and β − ξ·K must be σ·K for some σ in 0 … the
 * option's limit. Null if the nonces do not open the encryption (the
 * client lied, or the nonces are not these).
 */
export function openContest(
  shape: ContestShape,
  enc: EncryptedContest,
  nonces: readonly bigint[],
  key: Element,
): { [option: string]: number } | null {
  if (nonces.length !== enc.options.length || enc.options.length !== shape.options.length) return null;
  const out: { [option: string]: number } = {};
  for (const [i, o] of enc.options.entries()) {
    if (!mul(G, nonces[i]!).equals(o.ciphertext.alpha)) return null;
    const value = smallMultiple(
      o.ciphertext.beta.subtract(mulPublic(key, nonces[i]!)),
      key,
      shape.optionLimit,
    );
    if (value < 0) return null;
    out[o.option] = value;
  }
  return out;
}

// ---- The JSON form (what a ballot record carries) ----

/** The most options one contest may have in the JSON form. */
export const MAX_OPTIONS = 256;

/** A range proof as JSON: every element and scalar as base64 of its 32-byte encoding. */
export type RangeProofJson = { commitments: string[]; challenges: string[]; responses: string[] };

/** An encrypted contest as JSON (ledger/record.ts carries it in a ballot's body). */
export type EncryptedContestJson = {
  contest: string;
  options: Array<{ option: string; alpha: string; beta: string; proof: RangeProofJson }>;
  sumProof: RangeProofJson;
};

const element = (e: Element) => toBase64(encodeElement(e));
const scalar = (s: bigint) => toBase64(encodeScalar(s));

function proofToJson(p: RangeProof): RangeProofJson {
  return {
    commitments: p.commitments.map(element),
    challenges: p.challenges.map(scalar),
    responses: p.responses.map(scalar),
  };
}

/** The JSON form of `enc`. */
export function encryptedContestToJson(enc: EncryptedContest): EncryptedContestJson {
  return {
    contest: enc.contest,
    options: enc.options.map((o) => ({
      option: o.option,
      alpha: element(o.ciphertext.alpha),
      beta: element(o.ciphertext.beta),
      proof: proofToJson(o.proof),
    })),
    sumProof: proofToJson(enc.sumProof),
  };
}

function strings(v: unknown, what: string, max: number): string[] {
  if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'string'))
    throw new MalformedError(`${what}: expected a list of at most ${max} base64 strings`);
  return v as string[];
}

function proofFromJson(v: unknown, what: string): RangeProof {
  const o = v as { [k: string]: unknown } | null;
  if (typeof o !== 'object' || o === null) throw new MalformedError(`${what}: expected an object`);
  const n = MAX_RANGE + 1;
  return {
    commitments: strings(o.commitments, `${what}.commitments`, 2 * n).map((s, i) =>
      decodeElement(fromBase64(s), `${what}.commitments[${i}]`),
    ),
    challenges: strings(o.challenges, `${what}.challenges`, n).map((s, i) =>
      decodeScalar(fromBase64(s), `${what}.challenges[${i}]`),
    ),
    responses: strings(o.responses, `${what}.responses`, n).map((s, i) =>
      decodeScalar(fromBase64(s), `${what}.responses[${i}]`),
    ),
  };
}

/**
 * Parses the JSON form: every element a canonical ristretto255 encoding,
 * every scalar canonical (below L), lists no longer than the largest range.
 * Throws MalformedError naming the field. Whether the proofs verify is
 * {@link verifyContest}'s to say.
 */
export function encryptedContestFromJson(v: unknown, what = 'contest'): EncryptedContest {
  const o = v as { [k: string]: unknown } | null;
  if (typeof o !== 'object' || o === null || typeof o.contest !== 'string' || !Array.isArray(o.options))
    throw new MalformedError(`${what}: expected {contest, options, sumProof}`);
  if (o.options.length > MAX_OPTIONS) throw new MalformedError(`${what}: more than ${MAX_OPTIONS} options`);
  return {
    contest: o.contest,
    options: (o.options as unknown[]).map((x, i) => {
      const opt = x as { [k: string]: unknown } | null;
      const at = `${what}.options[${i}]`;
      if (typeof opt !== 'object' || opt === null || typeof opt.option !== 'string')
        throw new MalformedError(`${at}: expected {option, alpha, beta, proof}`);
      if (typeof opt.alpha !== 'string' || typeof opt.beta !== 'string')
        throw new MalformedError(`${at}: alpha and beta must be base64`);
      return {
        option: opt.option,
        ciphertext: {
          alpha: decodeElement(fromBase64(opt.alpha), `${at}.alpha`),
          beta: decodeElement(fromBase64(opt.beta), `${at}.beta`),
        },
        proof: proofFromJson(opt.proof, `${at}.proof`),
      };
    }),
    sumProof: proofFromJson(o.sumProof, `${what}.sumProof`),
  };
}
