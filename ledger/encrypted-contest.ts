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
import {
  addCiphertexts,
  encrypt,
  proveRange,
  verifyRangeBatch,
  type Ciphertext,
  type ProofContext,
  type RangeProof,
  type RangeStatement,
} from './elgamal.js';
import { G, mod, mul, mulPublic, randomScalar, IDENTITY, type Element } from './group.js';

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
    const target = o.ciphertext.beta.subtract(mulPublic(key, nonces[i]!));
    let acc = IDENTITY;
    let value = -1;
    for (let v = 0; v <= shape.optionLimit; v++, acc = acc.add(key))
      if (acc.equals(target)) {
        value = v;
        break;
      }
    if (value < 0) return null;
    out[o.option] = value;
  }
  return out;
}
