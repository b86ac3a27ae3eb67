/**
 * SHA-256 on node:crypto, for the services' hot paths (leaf hashes of
 * kilobyte-sized records): installed with `setSha256Backend(nativeSha256)`;
 * identical results to the portable backend, which a test checks.
 */
import { createHash } from 'node:crypto';
import type { Sha256Backend } from '../../ledger/hash.js';

export const nativeSha256: Sha256Backend = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
};
