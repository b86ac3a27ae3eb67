/**
 * The prime-order group of Urna's encrypted ballots: ristretto255 (RFC 9496)
 * through @noble/curves, written additively (`a·G + b·K`), with its scalars
 * (integers mod the group order L = 2^252 + 27742317777372353535851937790883648493).
 * Pure and browser-safe, like the rest of the ledger.
 *
 * Encodings are RFC 9496's and nothing else:
 * - an element is its 32-byte canonical encoding (§4.3.2); decoding (§4.3.1)
 *   refuses every non-canonical or invalid string, so an element has one
 *   encoding and equal encodings are equal elements;
 * - a scalar is 32 bytes little-endian, below L (decoding refuses the rest,
 *   so a scalar has one encoding too);
 * - the identity element encodes as 32 zero bytes; it is a valid element,
 *   which a protocol refuses where it must not appear (a public key).
 *
 * Challenges (Fiat-Shamir) are {@link hashToScalar}: SHA-512 of a
 * domain-separated, length-prefixed list of byte strings, reduced mod L
 * (64 bytes reduce with a bias below 2^-250).
 */
import { pippenger } from '@noble/curves/abstract/curve.js';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concat, uint32BE, utf8 } from './bytes.js';
import { MalformedError } from './errors.js';

const Point = ristretto255.Point;

/** An element of ristretto255 (immutable). */
export type Element = InstanceType<typeof Point>;

/** The generator (RFC 9496 §4.4). */
export const G: Element = Point.BASE;

/** The identity element. */
export const IDENTITY: Element = Point.ZERO;

/** The group order L. */
export const L: bigint = Point.Fn.ORDER;

/**
 * Encodings known without computing them: an element decoded from bytes,
 * or encoded once already (encoding costs an inverse square root, about a
 * third of a scalar multiplication). Elements are immutable, so an
 * element's encoding never changes; callers get a copy.
 */
const encodings = new WeakMap<Element, Uint8Array>();

/** The element's 32-byte canonical encoding (RFC 9496 §4.3.2). */
export function encodeElement(e: Element): Uint8Array {
  let bytes = encodings.get(e);
  if (!bytes) {
    bytes = e.toBytes();
    encodings.set(e, bytes);
  }
  return bytes.slice();
}

/** Decodes an element (RFC 9496 §4.3.1). Throws MalformedError for anything but a canonical encoding of one. */
export function decodeElement(bytes: Uint8Array, what = 'element'): Element {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32)
    throw new MalformedError(`${what}: a ristretto255 element is 32 bytes`);
  try {
    const e = Point.fromBytes(bytes);
    encodings.set(e, bytes.slice());
    return e;
  } catch {
    throw new MalformedError(`${what}: not a canonical ristretto255 encoding`);
  }
}

/** The scalar `s mod L`. */
export function mod(s: bigint): bigint {
  const r = s % L;
  return r < 0n ? r + L : r;
}

/** A scalar's 32-byte little-endian encoding. RangeError unless 0 ≤ s < L. */
export function encodeScalar(s: bigint): Uint8Array {
  if (s < 0n || s >= L) throw new RangeError('encodeScalar: not a scalar in [0, L)');
  return Point.Fn.toBytes(s);
}

/** The unsigned integer `bytes` encode little-endian. */
function littleEndian(bytes: Uint8Array): bigint {
  let s = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) s = (s << 8n) | BigInt(bytes[i]!);
  return s;
}

/** Whether `x` is a scalar: a bigint in [0, L). */
export function isScalar(x: unknown): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x < L;
}

/** Decodes a scalar: 32 bytes little-endian, below L. Throws MalformedError otherwise. */
export function decodeScalar(bytes: Uint8Array, what = 'scalar'): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32)
    throw new MalformedError(`${what}: a scalar is 32 bytes`);
  const s = littleEndian(bytes);
  if (s >= L) throw new MalformedError(`${what}: not below the group order (non-canonical)`);
  return s;
}

/** The scalar of 64 uniform bytes, little-endian, reduced mod L (RFC 9496 §4.4's wide reduction). */
export function wideScalar(bytes: Uint8Array): bigint {
  if (bytes.length !== 64) throw new RangeError('wideScalar: 64 bytes');
  return littleEndian(bytes) % L;
}

/** 1/x mod L. RangeError for x ≡ 0. */
export function invertScalar(x: bigint): bigint {
  const k = mod(x);
  if (k === 0n) throw new RangeError('invertScalar: 0 has no inverse');
  return Point.Fn.inv(k);
}

/** A uniformly random scalar from the platform CSPRNG (64 bytes, reduced). */
export function randomScalar(): bigint {
  return wideScalar(crypto.getRandomValues(new Uint8Array(64)));
}

/**
 * `s·P` in constant time for secret scalars (nonces, keys); 0·P is the
 * identity. `s` is taken mod L.
 */
export function mul(p: Element, s: bigint): Element {
  const k = mod(s);
  return k === 0n ? IDENTITY : p.multiply(k);
}

/** `s·P` for public scalars only (challenges, responses, verification): faster, not constant time. */
export function mulPublic(p: Element, s: bigint): Element {
  return p.multiplyUnsafe(mod(s));
}

/**
 * The small v in 0 … `max` with v·`base` = `target` (a count recovered
 * from σ·K by search), or -1 if there is none. Up to 256 by walking;
 * beyond, by baby-step giant-step (Shanks): a table of j·base for
 * j < m = ⌈√(max+1)⌉, then target − i·m·base for i = 0, 1, … looked up in
 * it, so about 2√max additions and encodings instead of max.
 */
export function smallMultiple(target: Element, base: Element, max: number): number {
  if (!Number.isSafeInteger(max) || max < 0) throw new RangeError('smallMultiple: max must be a count');
  if (max <= 256) {
    let acc = IDENTITY;
    for (let v = 0; v <= max; v++, acc = acc.add(base)) if (acc.equals(target)) return v;
    return -1;
  }
  const m = Math.ceil(Math.sqrt(max + 1));
  const baby = new Map<string, number>();
  let acc = IDENTITY;
  for (let j = 0; j < m; j++, acc = acc.add(base)) baby.set(acc.toHex(), j);
  const giant = acc.negate(); // acc is now m·base
  let probe = target;
  for (let i = 0; i * m <= max; i++, probe = probe.add(giant)) {
    const j = baby.get(probe.toHex());
    if (j !== undefined) return i * m + j <= max ? i * m + j : -1;
  }
  return -1;
}

/** Σ s_i·P_i for public scalars (Pippenger's method): one multi-scalar multiplication. */
export function msm(points: readonly Element[], scalars: readonly bigint[]): Element {
  if (points.length !== scalars.length) throw new RangeError('msm: as many scalars as points');
  if (points.length === 0) return IDENTITY;
  return pippenger(Point, [...points], scalars.map(mod));
}

/**
 * A Fiat-Shamir challenge: SHA-512 over `"urna/" || domain` and each part,
 * every one of them preceded by its length as 4 bytes big-endian, reduced
 * mod L. Length prefixes make the encoding injective, so two different
 * lists of parts never hash the same input; the domain separates each use
 * (each proof, each version).
 */
export function hashToScalar(domain: string, parts: readonly Uint8Array[]): bigint {
  const chunks: Uint8Array[] = [];
  for (const p of [utf8(`urna/${domain}`), ...parts]) chunks.push(uint32BE(p.length), p);
  return wideScalar(sha512(concat(...chunks)));
}
