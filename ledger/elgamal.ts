/**
 * Exponential ElGamal on ristretto255 (ledger/group.ts) and the proof that
 * a ciphertext encrypts a small integer in a range: ElectionGuard 2.1's
 * construction (its §3.3: encryption, and the disjunctive Chaum-Pedersen
 * range proof) written additively, with its hash in place of
 * ElectionGuard's HMAC-SHA-256 over Z_p (docs/DESIGN.md, "Encrypted
 * ballots", says where and why Urna departs from it).
 *
 * Encryption of σ under the election key K = s·G with nonce ξ:
 *
 *     α = ξ·G,   β = (σ + ξ)·K
 *
 * so that ciphertexts add: (α₁ + α₂, β₁ + β₂) encrypts σ₁ + σ₂ with nonce
 * ξ₁ + ξ₂, and whoever holds s recovers σ·K = β − s·α, then σ as the small
 * discrete log of σ·K to the base K.
 *
 * The range proof for 0 ≤ σ ≤ R (ElectionGuard 2.1 §3.3.5): for the true
 * value ℓ a real Chaum-Pedersen commitment, for every other j a simulated
 * one, and challenges that must add up to the Fiat-Shamir hash of the whole
 * statement:
 *
 *     j ≠ ℓ: c_j, u_j random;  a_j = u_j·G,  b_j = (u_j + (ℓ − j)·c_j)·K
 *     j = ℓ: u_ℓ random;       a_ℓ = u_ℓ·G,  b_ℓ = u_ℓ·K
 *     c = H(context, R, K, α, β, a_0, b_0, …, a_R, b_R)
 *     c_ℓ = c − Σ_{j≠ℓ} c_j;   v_j = u_j − c_j·ξ  (every j)
 *
 * The proof is the commitments (a_0, b_0 … a_R, b_R), the challenges
 * c_0 … c_R and the responses v_0 … v_R. A verifier checks that the
 * challenges add up to the hash of the statement with those commitments,
 * and that a_j = v_j·G + c_j·α and b_j = (v_j − j·c_j)·K + c_j·β for every
 * j. ElectionGuard publishes (c, v) only and has the verifier recompute
 * the commitments; carrying them (64 more bytes per j) lets many proofs'
 * equations be checked together, as one random linear combination in one
 * multi-scalar multiplication ({@link verifyRangeBatch}).
 *
 * The context binds the election's hash, the contest, the option and the
 * voter's credential into every challenge, so a ciphertext and its proof
 * copied from another ballot (another credential, another option) do not
 * verify.
 */
import { toHex, uint32BE, utf8 } from './bytes.js';
import {
  encodeElement,
  msm,
  G,
  hashToScalar,
  IDENTITY,
  isScalar,
  mod,
  mul,
  mulPublic,
  randomScalar,
  type Element,
} from './group.js';

/** An exponential ElGamal ciphertext. */
export type Ciphertext = { alpha: Element; beta: Element };

/** The encryption of the small integer `value` (0 ≤ value < 2^32) under `key` with `nonce` (secret, nonzero in use). */
export function encrypt(value: number, nonce: bigint, key: Element): Ciphertext {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError('encrypt: value must be an integer in [0, 2^32)');
  return { alpha: mul(G, nonce), beta: mul(key, BigInt(value) + nonce) };
}

/** The sum of ciphertexts: it encrypts the sum of their values (the identity pair for none). */
export function addCiphertexts(list: readonly Ciphertext[]): Ciphertext {
  let alpha = IDENTITY;
  let beta = IDENTITY;
  for (const c of list) {
    alpha = alpha.add(c.alpha);
    beta = beta.add(c.beta);
  }
  return { alpha, beta };
}

/** What every challenge of a ballot's proofs binds. */
export type ProofContext = {
  /** The election's hash (32 bytes: the leaf hash of its `election` record). */
  election: Uint8Array;
  contest: string;
  /** The option, for an option's range proof; absent for the contest's sum proof. */
  option?: string;
  /** The voter's credential (its 32-byte public key). */
  credential: Uint8Array;
};

/** A range proof: commitments a_0, b_0, …, a_R, b_R, challenges c_0 … c_R and responses v_0 … v_R. */
export type RangeProof = { commitments: Element[]; challenges: bigint[]; responses: bigint[] };

/** The largest range a proof covers (a contest's selection limit stays far below it). */
export const MAX_RANGE = 64;

/** The statement's challenge: its domain names whether it is an option's proof or the contest's sum proof. */
function rangeChallenge(
  ctx: ProofContext,
  limit: number,
  key: Element,
  ct: Ciphertext,
  commitments: readonly Element[],
): bigint {
  const domain = ctx.option === undefined ? 'contest-sum/v1' : 'option-range/v1';
  return hashToScalar(domain, [
    ctx.election,
    utf8(ctx.contest),
    ...(ctx.option === undefined ? [] : [utf8(ctx.option)]),
    ctx.credential,
    uint32BE(limit),
    encodeElement(key),
    encodeElement(ct.alpha),
    encodeElement(ct.beta),
    ...commitments.map(encodeElement),
  ]);
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_RANGE)
    throw new RangeError(`range proof: the limit must be an integer in [0, ${MAX_RANGE}]`);
}

/**
 * Proves that `ct` = encrypt(value, nonce, key) encrypts an integer in
 * 0 … `limit`. `random` draws the proof's secret scalars (default the
 * platform CSPRNG; tests pin it). RangeError if `value` is out of range
 * (nothing true to prove).
 */
export function proveRange(
  ct: Ciphertext,
  value: number,
  nonce: bigint,
  limit: number,
  key: Element,
  ctx: ProofContext,
  random: () => bigint = randomScalar,
): RangeProof {
  checkLimit(limit);
  if (!Number.isSafeInteger(value) || value < 0 || value > limit)
    throw new RangeError(`proveRange: value ${value} is not in 0 … ${limit}`);
  const u: bigint[] = [];
  const c: bigint[] = [];
  const commitments: Element[] = [];
  for (let j = 0; j <= limit; j++) {
    u[j] = random();
    c[j] = j === value ? 0n : random();
    commitments.push(mul(G, u[j]!), mul(key, u[j]! + BigInt(value - j) * c[j]!));
  }
  const total = rangeChallenge(ctx, limit, key, ct, commitments);
  c[value] = mod(total - c.reduce((a, x, j) => (j === value ? a : a + x), 0n));
  return { commitments, challenges: c.map(mod), responses: u.map((uj, j) => mod(uj - c[j]! * nonce)) };
}

/** One statement to verify: a ciphertext, its proof, the range, the key and the context. */
export type RangeStatement = {
  ct: Ciphertext;
  proof: RangeProof;
  limit: number;
  key: Element;
  ctx: ProofContext;
};

/** The proof's shape and scalars are right, and its challenges add up to the statement's hash. */
function challengesHold(s: RangeStatement): boolean {
  checkLimit(s.limit);
  const { commitments: ab, challenges: c, responses: v } = s.proof;
  const n = s.limit + 1;
  if (!Array.isArray(ab) || !Array.isArray(c) || !Array.isArray(v)) return false;
  if (ab.length !== 2 * n || c.length !== n || v.length !== n) return false;
  if (![...c, ...v].every(isScalar)) return false;
  return mod(c.reduce((a, x) => a + x, 0n)) === rangeChallenge(s.ctx, s.limit, s.key, s.ct, ab);
}

/** Whether `proof` shows that `ct` encrypts an integer in 0 … `limit` under `key`, for `ctx`. Never throws for a malformed proof. */
export function verifyRange(
  ct: Ciphertext,
  proof: RangeProof,
  limit: number,
  key: Element,
  ctx: ProofContext,
): boolean {
  const s = { ct, proof, limit, key, ctx };
  if (!challengesHold(s)) return false;
  const { commitments: ab, challenges: c, responses: v } = proof;
  for (let j = 0; j <= limit; j++) {
    const a = mulPublic(G, v[j]!).add(mulPublic(ct.alpha, c[j]!));
    const b = mulPublic(key, v[j]! - BigInt(j) * c[j]!).add(mulPublic(ct.beta, c[j]!));
    if (!a.equals(ab[2 * j]!) || !b.equals(ab[2 * j + 1]!)) return false;
  }
  return true;
}

/**
 * Verifies many range proofs together: each one's challenges against its
 * hash, then every equation of every proof at once as one random linear
 * combination, Σ ρ_e·(left_e − right_e) = 0 with independent random 128-bit
 * weights ρ_e, in one multi-scalar multiplication (a false equation makes
 * the sum nonzero except with probability 2^-128). If the sum is not zero,
 * each proof is checked alone, to name the bad ones. Returns each
 * statement's verdict, in order. `random` draws the weights (default the
 * CSPRNG; they must be unpredictable to whoever made the proofs).
 */
export function verifyRangeBatch(
  statements: readonly RangeStatement[],
  random: () => bigint = () => randomScalar() & ((1n << 128n) - 1n),
): boolean[] {
  const verdicts = statements.map(challengesHold);
  const points: Element[] = [];
  const scalars: bigint[] = [];
  let gCoefficient = 0n;
  // One term per distinct key (a batch is mostly one election's key).
  const keyTerms = new Map<string, { key: Element; coefficient: bigint }>();
  statements.forEach((s, i) => {
    if (!verdicts[i]) return;
    const { commitments: ab, challenges: c, responses: v } = s.proof;
    let kCoefficient = 0n;
    let alpha = 0n;
    let beta = 0n;
    for (let j = 0; j <= s.limit; j++) {
      // ρ·(v_j·G + c_j·α − a_j) + ρ'·((v_j − j·c_j)·K + c_j·β − b_j)
      const rho = random();
      const rho2 = random();
      gCoefficient += rho * v[j]!;
      alpha += rho * c[j]!;
      kCoefficient += rho2 * (v[j]! - BigInt(j) * c[j]!);
      beta += rho2 * c[j]!;
      points.push(ab[2 * j]!, ab[2 * j + 1]!);
      scalars.push(mod(-rho), mod(-rho2));
    }
    points.push(s.ct.alpha, s.ct.beta);
    scalars.push(mod(alpha), mod(beta));
    const id = toHex(encodeElement(s.key));
    const term = keyTerms.get(id) ?? { key: s.key, coefficient: 0n };
    term.coefficient += kCoefficient;
    keyTerms.set(id, term);
  });
  for (const { key, coefficient } of keyTerms.values()) {
    points.push(key);
    scalars.push(mod(coefficient));
  }
  points.push(G);
  scalars.push(mod(gCoefficient));
  if (msm(points, scalars).equals(IDENTITY)) return verdicts;
  return statements.map((s, i) => verdicts[i]! && verifyRange(s.ct, s.proof, s.limit, s.key, s.ctx));
}
