/**
 * Guardians and threshold decryption on ristretto255 (ledger/group.ts),
 * ElectionGuard 2.1's §3.2 (key generation, with a k-of-n threshold) and
 * §3.6 (verifiable decryption), written additively:
 *
 * - Guardian i (1 … n) draws a polynomial P_i(x) = a_{i,0} + a_{i,1}·x + …
 *   + a_{i,k-1}·x^(k-1) and publishes its coefficient commitments
 *   K_{i,j} = a_{i,j}·G, each with a Schnorr proof of knowledge of a_{i,j}.
 * - It gives guardian ℓ the share P_i(ℓ), which ℓ checks against the
 *   commitments: P_i(ℓ)·G = Σ_j ℓ^j·K_{i,j}.
 * - The election key is K = Σ_i K_{i,0}; guardian ℓ's key share is
 *   s_ℓ = Σ_i P_i(ℓ), whose public image K̂_ℓ = s_ℓ·G anyone computes from the
 *   commitments (Σ_i Σ_j ℓ^j·K_{i,j}).
 * - To decrypt (α, β), guardian ℓ publishes M_ℓ = s_ℓ·α with a
 *   Chaum-Pedersen proof that log_G(K̂_ℓ) = log_α(M_ℓ). Any k of them
 *   combine with Lagrange coefficients w_ℓ = Π_{m≠ℓ} m / (m − ℓ) into
 *   M = Σ w_ℓ·M_ℓ = s·α, and β − M = σ·K gives the small σ by search.
 *
 * A guardian whose proof fails is named and its share refused; any k of
 * the others still decrypt. Challenges follow ledger/elgamal.ts: SHA-512
 * over length-prefixed parts with a domain, reduced mod L; every one binds
 * the election hash and the guardian's index.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concat, uint32BE, utf8 } from './bytes.js';
import type { Ciphertext } from './elgamal.js';
import {
  decodeScalar,
  encodeElement,
  encodeScalar,
  G,
  hashToScalar,
  IDENTITY,
  invertScalar,
  isScalar,
  mod,
  mul,
  mulPublic,
  randomScalar,
  smallMultiple,
  type Element,
} from './group.js';

/** A Schnorr proof of knowledge, or a Chaum-Pedersen proof: its challenge and response. */
export type Proof = { challenge: bigint; response: bigint };

/** The largest number of guardians (indexes are 1 … MAX_GUARDIANS). */
export const MAX_GUARDIANS = 64;

function checkIndex(i: number, what = 'guardian index'): void {
  if (!Number.isSafeInteger(i) || i < 1 || i > MAX_GUARDIANS)
    throw new RangeError(`${what} must be an integer in 1 … ${MAX_GUARDIANS}`);
}

function inRange(p: Proof): boolean {
  return isScalar(p?.challenge) && isScalar(p.response);
}

/**
 * A Schnorr proof of knowledge of `x` for `x·G`: h = u·G, c = `challenge(h)`,
 * v = u − c·x. (`challenge` hashes the statement with its domain.)
 */
function proveKnowledge(x: bigint, challenge: (h: Element) => bigint, random: () => bigint): Proof {
  const u = random();
  const c = challenge(mul(G, u));
  return { challenge: c, response: mod(u - c * x) };
}

/** Whether `proof` shows knowledge of log_G `key` (not the identity): h = v·G + c·key and c = `challenge(h)`. */
function provesKnowledge(key: Element, proof: Proof, challenge: (h: Element) => bigint): boolean {
  if (key.equals(IDENTITY) || !inRange(proof)) return false;
  const h = mulPublic(G, proof.response).add(mulPublic(key, proof.challenge));
  return challenge(h) === proof.challenge;
}

// ---- Key generation ----

/** A guardian's secret polynomial: k coefficients (a_{i,0} is its part of the election secret). */
export type GuardianSecret = { index: number; coefficients: bigint[] };

/** What a guardian publishes: its commitments K_{i,j} and a proof of knowledge for each. */
export type GuardianKey = { index: number; commitments: Element[]; proofs: Proof[] };

function keyChallenge(
  election: Uint8Array,
  index: number,
  j: number,
  commitment: Element,
  h: Element,
): bigint {
  return hashToScalar('guardian-key/v1', [
    election,
    uint32BE(index),
    uint32BE(j),
    encodeElement(commitment),
    encodeElement(h),
  ]);
}

/** Guardian `index`'s polynomial of `quorum` coefficients (`random` draws them; default the CSPRNG). */
export function guardianSecret(
  index: number,
  quorum: number,
  random: () => bigint = randomScalar,
): GuardianSecret {
  checkIndex(index);
  checkIndex(quorum, 'quorum');
  return { index, coefficients: Array.from({ length: quorum }, () => random()) };
}

/** The commitments of `secret`'s coefficients, each with its Schnorr proof, for `election` (its 32-byte hash). */
export function guardianKey(
  secret: GuardianSecret,
  election: Uint8Array,
  random: () => bigint = randomScalar,
): GuardianKey {
  const commitments = secret.coefficients.map((a) => mul(G, a));
  const proofs = secret.coefficients.map((a, j) =>
    proveKnowledge(a, (h) => keyChallenge(election, secret.index, j, commitments[j]!, h), random),
  );
  return { index: secret.index, commitments, proofs };
}

/** Whether every commitment of `key` comes with a valid proof of knowledge (and none is the identity). */
export function verifyGuardianKey(key: GuardianKey, quorum: number, election: Uint8Array): boolean {
  if (key.commitments.length !== quorum || key.proofs.length !== quorum) return false;
  return key.commitments.every((k, j) =>
    provesKnowledge(k, key.proofs[j]!, (h) => keyChallenge(election, key.index, j, k, h)),
  );
}

/** P_i(ℓ): the share guardian `secret.index` gives guardian `to`. */
export function shareFor(secret: GuardianSecret, to: number): bigint {
  checkIndex(to);
  let x = 0n;
  for (let j = secret.coefficients.length - 1; j >= 0; j--) x = mod(x * BigInt(to) + secret.coefficients[j]!);
  return x;
}

/** Σ_j ℓ^j·K_{i,j}: the public image of the share of guardian `key.index` for guardian `to`. */
export function shareImage(key: GuardianKey, to: number): Element {
  checkIndex(to);
  let acc = IDENTITY;
  let power = 1n;
  for (const k of key.commitments) {
    acc = acc.add(mulPublic(k, power));
    power = mod(power * BigInt(to));
  }
  return acc;
}

/** Whether `share` (received by guardian `to`) is the one `key`'s commitments promise. */
export function verifyShare(key: GuardianKey, to: number, share: bigint): boolean {
  return isScalar(share) && mul(G, share).equals(shareImage(key, to));
}

/** The election key K = Σ_i K_{i,0}. */
export function electionKey(keys: readonly GuardianKey[]): Element {
  return keys.reduce((acc, k) => acc.add(k.commitments[0]!), IDENTITY);
}

/** Guardian `index`'s key share s_ℓ = Σ_i P_i(ℓ), from the shares it received (its own included). */
export function keyShare(received: readonly bigint[]): bigint {
  return mod(received.reduce((a, x) => a + x, 0n));
}

/** K̂_ℓ = s_ℓ·G, from the published keys alone. */
export function keyShareImage(keys: readonly GuardianKey[], index: number): Element {
  return keys.reduce((acc, k) => acc.add(shareImage(k, index)), IDENTITY);
}

// ---- Shares in transit ----

/**
 * A guardian's communication key κ = ζ·G (ElectionGuard 2.1 §3.2.2 keeps it
 * apart from the polynomial's commitments), with a Schnorr proof of
 * knowledge of ζ under the domain `guardian-comm-key/v1`.
 */
export type CommunicationKey = { index: number; key: Element; proof: Proof };

/** The communication key of the secret `zeta`, proven. */
export function communicationKey(
  index: number,
  zeta: bigint,
  election: Uint8Array,
  random: () => bigint = randomScalar,
): CommunicationKey {
  checkIndex(index);
  const key = mul(G, zeta);
  return { index, key, proof: proveKnowledge(zeta, (h) => commChallenge(election, index, key, h), random) };
}

function commChallenge(election: Uint8Array, index: number, key: Element, h: Element): bigint {
  return hashToScalar('guardian-comm-key/v1', [
    election,
    uint32BE(index),
    encodeElement(key),
    encodeElement(h),
  ]);
}

/** Whether `k` proves knowledge of its secret (and is not the identity). */
export function verifyCommunicationKey(k: CommunicationKey, election: Uint8Array): boolean {
  return provesKnowledge(k.key, k.proof, (h) => commChallenge(election, k.index, k.key, h));
}

/** A share P_i(ℓ) encrypted from guardian `from` to guardian `to` (hashed ElGamal with a MAC). */
export type EncryptedShare = {
  from: number;
  to: number;
  alpha: Element;
  ciphertext: Uint8Array;
  mac: Uint8Array;
};

/** The pad and MAC key of a share in transit: SHA-512 over the domain `share-key/v1`, the parties, α and the shared ξ·κ. */
function shareKeys(election: Uint8Array, from: number, to: number, alpha: Element, shared: Element) {
  const k = sha512(
    concat(
      utf8('urna/share-key/v1'),
      election,
      uint32BE(from),
      uint32BE(to),
      encodeElement(alpha),
      encodeElement(shared),
    ),
  );
  return { pad: k.subarray(0, 32), macKey: k.subarray(32) };
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

/**
 * Encrypts the share `share` (= P_from(to)) to guardian `to`'s
 * communication key: α = ξ·G, the 32-byte scalar XOR the pad derived from
 * ξ·κ_to, and HMAC-SHA-256 under the MAC key over α and the ciphertext.
 * Safe to publish (on the log or beside it): only `to` can open it.
 */
export function encryptShare(
  share: bigint,
  from: number,
  to: CommunicationKey,
  election: Uint8Array,
  random: () => bigint = randomScalar,
): EncryptedShare {
  checkIndex(from);
  const xi = random();
  const alpha = mul(G, xi);
  const { pad, macKey } = shareKeys(election, from, to.index, alpha, mul(to.key, xi));
  const ciphertext = xor(encodeScalar(share), pad);
  return {
    from,
    to: to.index,
    alpha,
    ciphertext,
    mac: hmac(sha256, macKey, concat(encodeElement(alpha), ciphertext)),
  };
}

/**
 * Guardian `e.to`, holding its communication secret `zeta`, opens an
 * encrypted share: the share, or null if the MAC fails or the plaintext is
 * no scalar (then the sender is to be named; the share is then checked
 * against the sender's commitments with {@link verifyShare}).
 */
export function decryptShare(e: EncryptedShare, zeta: bigint, election: Uint8Array): bigint | null {
  if (e.ciphertext.length !== 32 || e.mac.length !== 32) return null;
  const { pad, macKey } = shareKeys(election, e.from, e.to, e.alpha, mul(e.alpha, zeta));
  const expected = hmac(sha256, macKey, concat(encodeElement(e.alpha), e.ciphertext));
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= expected[i]! ^ e.mac[i]!;
  if (diff !== 0) return null;
  try {
    return decodeScalar(xor(e.ciphertext, pad));
  } catch {
    return null;
  }
}

// ---- Decryption ----

/** Guardian `index`'s partial decryption M_ℓ = s_ℓ·α and its proof. */
export type PartialDecryption = { index: number; share: Element; proof: Proof };

function decryptionChallenge(
  election: Uint8Array,
  index: number,
  image: Element,
  ct: Ciphertext,
  share: Element,
  a: Element,
  b: Element,
): bigint {
  return hashToScalar('partial-decryption/v1', [
    election,
    uint32BE(index),
    ...[image, ct.alpha, ct.beta, share, a, b].map(encodeElement),
  ]);
}

/** Guardian `index`, holding key share `s`, decrypts its part of `ct` and proves it. */
export function partialDecrypt(
  ct: Ciphertext,
  index: number,
  s: bigint,
  election: Uint8Array,
  random: () => bigint = randomScalar,
): PartialDecryption {
  checkIndex(index);
  const share = mul(ct.alpha, s);
  const u = random();
  const c = decryptionChallenge(election, index, mul(G, s), ct, share, mul(G, u), mul(ct.alpha, u));
  return { index, share, proof: { challenge: c, response: mod(u - c * s) } };
}

/** Whether `d` is guardian `d.index`'s correct partial decryption of `ct`, given its public key share image. */
export function verifyPartialDecryption(
  ct: Ciphertext,
  d: PartialDecryption,
  image: Element,
  election: Uint8Array,
): boolean {
  if (!inRange(d.proof)) return false;
  const { challenge: c, response: v } = d.proof;
  const a = mulPublic(G, v).add(mulPublic(image, c));
  const b = mulPublic(ct.alpha, v).add(mulPublic(d.share, c));
  return decryptionChallenge(election, d.index, image, ct, d.share, a, b) === c;
}

/** The Lagrange coefficient at 0 of guardian `index` among `indexes` (distinct, including it). */
export function lagrange(index: number, indexes: readonly number[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const m of indexes) {
    if (m === index) continue;
    num = mod(num * BigInt(m));
    den = mod(den * BigInt(m - index));
  }
  return mod(num * invertScalar(den));
}

/**
 * Combines partial decryptions of `ct` from distinct guardians (at least
 * the quorum; each already verified) into σ·K = β − Σ w_ℓ·M_ℓ, and finds σ
 * in 0 … `max` (RangeError if it is not there: the shares were not of one
 * key, or fewer than the quorum).
 */
export function combine(
  ct: Ciphertext,
  parts: readonly Pick<PartialDecryption, 'index' | 'share'>[],
  key: Element,
  max: number,
): number {
  const indexes = parts.map((p) => p.index);
  if (new Set(indexes).size !== indexes.length) throw new RangeError('combine: a guardian appears twice');
  let m = IDENTITY;
  for (const p of parts) m = m.add(mulPublic(p.share, lagrange(p.index, indexes)));
  const v = smallMultiple(ct.beta.subtract(m), key, max);
  if (v < 0) throw new RangeError(`combine: the decryption is not a count in 0 … ${max}`);
  return v;
}
