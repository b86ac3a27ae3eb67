/**
 * SHA-256 on node:crypto (OpenSSL), for the services' hot paths (leaf hashes
 * of kilobyte-sized records, interior nodes): installed with
 * `setSha256Backend(nativeSha256)`; identical results to the portable
 * backend, which a test checks. One-shot `crypto.hash` (Node ≥ 20.12) costs
 * about 60% of a `createHash` object per digest, so the parts are joined first.
 */
import { hash } from 'node:crypto';
import type { Sha256Backend } from '../../ledger/hash.js';

export const nativeSha256: Sha256Backend = (...parts) => {
  const d = hash('sha256', parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
};

/** Raw native SHA-256 of one input, the fastest this platform offers (the benches' limit). */
export const rawSha256 = (input: Uint8Array): Uint8Array => hash('sha256', input, 'buffer');
