// Known answers from transparency-dev/formats (test/vectors/cosignature-v1.json,
// provenance there): a published tlog-cosignature v1 parses to its timestamp;
// a type 0x01 signature (64 bytes after the key ID) is refused as a
// cosignature; a native type 0x04 verifier key parses.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../../ledger/bytes.js';
import { COSIGNATURE_TYPE, parseCosignature } from '../../ledger/cosignature.js';
import { MalformedError } from '../../ledger/errors.js';
import { parseVerifierKey } from '../../ledger/note.js';

const vectors = JSON.parse(
  readFileSync(new URL('../vectors/cosignature-v1.json', import.meta.url), 'utf8'),
) as {
  timestamps: { name: string; base64: string; timestamp?: number; wantErr?: boolean }[];
  verifierKeys: { name: string; vkey: string }[];
};

describe('tlog-cosignature v1 vectors (transparency-dev/formats)', () => {
  it.each(vectors.timestamps)('$name', ({ base64, timestamp, wantErr }) => {
    const bytes = fromBase64(base64);
    const sig = { name: 'witness', keyId: bytes.slice(0, 4), signature: bytes.slice(4) };
    if (wantErr) expect(() => parseCosignature(sig)).toThrow(MalformedError);
    else expect(parseCosignature(sig).timestamp).toBe(timestamp);
  });

  it.each(vectors.verifierKeys)('$name', ({ vkey }) => {
    const v = parseVerifierKey(vkey);
    expect(v.type).toBe(COSIGNATURE_TYPE);
    expect(v.name).toBe(vkey.split('+')[0]);
  });
});
