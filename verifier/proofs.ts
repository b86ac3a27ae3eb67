/**
 * Batch proof checking for auditors (`urna verify proofs`): each probe is an
 * inclusion probe `{leafIdx, treeSize, root, leafHash, proof}` or a
 * consistency probe `{size1, size2, root1, root2, proof}` with base64 hashes,
 * the schema of transparency-dev/merkle's testdata.
 */
import { fromBase64 } from '../ledger/bytes.js';
import { UrnaError } from '../ledger/errors.js';
import { HASH_SIZE, type Hash } from '../ledger/hash.js';
import { verifyConsistency, verifyInclusion } from '../ledger/merkle.js';

/** The outcome of one probe: `ok`, or `fail <reason>`. */
export type ProbeResult = 'ok' | `fail ${string}`;

class ProbeFormatError extends Error {}

function hashField(probe: Record<string, unknown>, name: string): Hash {
  const v = probe[name];
  if (typeof v !== 'string') throw new ProbeFormatError(`${name} must be a base64 string`);
  let h: Uint8Array;
  try {
    h = fromBase64(v);
  } catch {
    throw new ProbeFormatError(`${name} is not base64`);
  }
  if (h.length !== HASH_SIZE) throw new ProbeFormatError(`${name} is not a 32-byte hash`);
  return h;
}

function sizeField(probe: Record<string, unknown>, name: string): number {
  const v = probe[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ProbeFormatError(`${name} must be a non-negative integer`);
  }
  return v;
}

function proofField(probe: Record<string, unknown>): Hash[] {
  const v = probe['proof'];
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new ProbeFormatError('proof must be an array or null');
  return v.map((_, i) => hashField(v as unknown as Record<string, unknown>, String(i)));
}

/** Checks one parsed probe. Never throws. */
export function checkProbe(probe: unknown): ProbeResult {
  try {
    if (typeof probe !== 'object' || probe === null || Array.isArray(probe)) {
      throw new ProbeFormatError('probe must be a JSON object');
    }
    const p = probe as Record<string, unknown>;
    if ('leafIdx' in p) {
      verifyInclusion(
        hashField(p, 'leafHash'),
        sizeField(p, 'leafIdx'),
        sizeField(p, 'treeSize'),
        hashField(p, 'root'),
        proofField(p),
      );
    } else if ('size1' in p) {
      verifyConsistency(
        sizeField(p, 'size1'),
        sizeField(p, 'size2'),
        hashField(p, 'root1'),
        hashField(p, 'root2'),
        proofField(p),
      );
    } else {
      throw new ProbeFormatError('neither an inclusion (leafIdx) nor a consistency (size1) probe');
    }
    return 'ok';
  } catch (e) {
    if (e instanceof ProbeFormatError) return `fail malformed: ${e.message}`;
    if (e instanceof UrnaError) return `fail ${e.code}: ${e.message}`;
    return `fail error: ${e instanceof Error ? e.message : String(e)}`;
  }
}
