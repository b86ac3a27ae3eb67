/** ledger/bytes.ts encodings against Node's own, at every length of a few blocks and past one string chunk. */
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../ledger/bytes.js';

const inputs = [
  ...Array.from({ length: 70 }, (_, n) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255)),
  Uint8Array.from({ length: 20_001 }, (_, i) => (i * 101) & 255), // more than one 8,192-character chunk
];

describe('toBase64 and toHex', () => {
  it('agree with Buffer and round-trip, at every length', () => {
    for (const b of inputs) {
      expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
      expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
      expect(fromBase64(toBase64(b))).toEqual(b);
      expect(fromHex(toHex(b))).toEqual(b);
    }
  });
});
