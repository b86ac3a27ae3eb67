/**
 * ledger/group.ts: ristretto255 through the code path Urna uses. RFC 9496
 * Appendix A.1 (the multiples of the generator encode as listed, decode and
 * re-encode unchanged, and equal k·G computed by the scalar multiplications
 * used), A.2 (every invalid encoding is refused with MalformedError),
 * canonical scalars, and the challenge hash's injectivity.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import {
  decodeElement,
  decodeScalar,
  encodeElement,
  encodeScalar,
  G,
  hashToScalar,
  IDENTITY,
  L,
  mul,
  mulPublic,
  smallMultiple,
  wideScalar,
} from '../../ledger/group.js';

const V = JSON.parse(readFileSync(new URL('../vectors/ristretto255.json', import.meta.url), 'utf8')) as {
  multiples: string[];
  invalid: string[];
};

describe('RFC 9496 A.1: multiples of the generator', () => {
  it.each(V.multiples.map((hex, k) => [k, hex] as const))('%i·G encodes as the RFC says', (k, hex) => {
    expect(toHex(encodeElement(mul(G, BigInt(k))))).toBe(hex);
    expect(toHex(encodeElement(mulPublic(G, BigInt(k))))).toBe(hex);
    const decoded = decodeElement(fromHex(hex));
    expect(toHex(encodeElement(decoded))).toBe(hex);
    expect(decoded.equals(mul(G, BigInt(k)))).toBe(true);
  });
  it('adds: the multiples are G, G + G, …', () => {
    let p = IDENTITY;
    for (const hex of V.multiples) {
      expect(toHex(encodeElement(p))).toBe(hex);
      p = p.add(G);
    }
  });
  it('L·G is the identity, and scalars are taken mod L', () => {
    expect(mul(G, L).equals(IDENTITY)).toBe(true);
    expect(mul(G, L + 5n).equals(mul(G, 5n))).toBe(true);
    expect(mul(G, -1n).equals(mul(G, L - 1n))).toBe(true);
  });
});

describe('RFC 9496 A.2: invalid encodings', () => {
  it.each(V.invalid)('refuses %s', (hex) => {
    expect(() => decodeElement(fromHex(hex))).toThrow(MalformedError);
  });
  it('refuses other lengths', () => {
    expect(() => decodeElement(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => decodeElement(new Uint8Array(33))).toThrow(/32 bytes/);
  });
});

describe('scalars', () => {
  it('encode little-endian and decode back; refuse L and above', () => {
    expect(toHex(encodeScalar(5n))).toBe(`05${'00'.repeat(31)}`);
    expect(decodeScalar(encodeScalar(L - 1n))).toBe(L - 1n);
    const l = new Uint8Array(32);
    let x = L;
    for (let i = 0; i < 32; i++, x >>= 8n) l[i] = Number(x & 0xffn);
    expect(() => decodeScalar(l)).toThrow(/non-canonical/);
    expect(() => decodeScalar(new Uint8Array(31))).toThrow(MalformedError);
    expect(() => encodeScalar(L)).toThrow(RangeError);
  });
  it('reduces 64 bytes mod L', () => {
    const bytes = new Uint8Array(64).fill(0xff);
    expect(wideScalar(bytes)).toBe((2n ** 512n - 1n) % L);
  });
});

describe('hashToScalar', () => {
  it('separates domains and never confuses how the parts are split', () => {
    const a = hashToScalar('test/v1', [utf8('ab'), utf8('c')]);
    expect(hashToScalar('test/v1', [utf8('ab'), utf8('c')])).toBe(a);
    expect(hashToScalar('test/v1', [utf8('a'), utf8('bc')])).not.toBe(a);
    expect(hashToScalar('test/v2', [utf8('ab'), utf8('c')])).not.toBe(a);
    expect(hashToScalar('test/v1', [utf8('abc')])).not.toBe(a);
    expect(a).toBeLessThan(L);
  });
});

describe('smallMultiple', () => {
  const K = mul(G, 987654321n);
  it.each([0, 1, 255, 256, 257, 1000, 4095, 65_536, 99_999, 100_000])('finds %i·K by search', (v) => {
    expect(smallMultiple(mul(K, BigInt(v)), K, 100_000)).toBe(v);
  });
  it('answers -1 beyond max, and for what is no small multiple', () => {
    expect(smallMultiple(mul(K, 1001n), K, 1000)).toBe(-1);
    expect(smallMultiple(mul(K, 300n), K, 299)).toBe(-1);
    expect(smallMultiple(mul(K, 12n), K, 11)).toBe(-1);
    expect(smallMultiple(G, K, 10_000)).toBe(-1);
  });
});
