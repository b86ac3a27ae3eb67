// RFC 6962 / RFC 9162 proof probes from transparency-dev/merkle (see
// test/vectors/README.md): every happy path verifies, every mutation
// (`wantErr: true`) is rejected.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex } from '../../ledger/bytes.js';
import { ProofError } from '../../ledger/errors.js';
import { leafHash } from '../../ledger/hash.js';
import {
  MemoryHashStore,
  proveConsistency,
  proveInclusion,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../ledger/merkle.js';

const DIR = join(import.meta.dirname, '../vectors/merkle');

interface InclusionProbe {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyProbe {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function probes<T>(kind: string): Array<[string, T]> {
  const out: Array<[string, T]> = [];
  for (const group of readdirSync(join(DIR, kind)).sort()) {
    for (const file of readdirSync(join(DIR, kind, group)).sort()) {
      out.push([`${group}/${file}`, JSON.parse(readFileSync(join(DIR, kind, group, file), 'utf8')) as T]);
    }
  }
  return out;
}

const proofOf = (p: string[] | null) => (p ?? []).map(fromBase64);

/**
 * The expected rejection: ProofError, except a number that is not a safe
 * integer (the "sub @1" probes wrap a uint64 to 2^64-1), which is refused as
 * an argument with RangeError before any verification.
 */
function expectRejected(f: () => void, ...numbers: number[]): void {
  if (numbers.every(Number.isSafeInteger)) expect(f).toThrow(ProofError);
  else expect(f).toThrow(RangeError);
}

const inclusion = probes<InclusionProbe>('inclusion');
const consistency = probes<ConsistencyProbe>('consistency');

describe('inclusion probes', () => {
  it('has the probes', () => {
    expect(inclusion.length).toBeGreaterThanOrEqual(40);
    expect(inclusion.filter(([, p]) => !p.wantErr)).toHaveLength(3);
  });
  it.each(inclusion)('%s', (_name, p) => {
    const run = () =>
      verifyInclusion(fromBase64(p.leafHash), p.leafIdx, p.treeSize, fromBase64(p.root), proofOf(p.proof));
    if (p.wantErr) expectRejected(run, p.leafIdx, p.treeSize);
    else expect(run).not.toThrow();
  });
});

describe('consistency probes', () => {
  it('has the probes', () => {
    expect(consistency.length).toBeGreaterThanOrEqual(40);
    expect(consistency.filter(([, p]) => !p.wantErr)).toHaveLength(3);
  });
  it.each(consistency)('%s', (_name, p) => {
    const run = () =>
      verifyConsistency(p.size1, p.size2, fromBase64(p.root1), fromBase64(p.root2), proofOf(p.proof));
    if (p.wantErr) expectRejected(run, p.size1, p.size2);
    else expect(run).not.toThrow();
  });
});

describe('the RFC 6962 test tree behind the probes', () => {
  const leaves = [
    '',
    '00',
    '10',
    '2021',
    '3031',
    '40414243',
    '5051525354555657',
    '606162636465666768696a6b6c6d6e6f',
  ];
  const store = new MemoryHashStore();
  for (const l of leaves) store.append(leafHash(fromHex(l)));

  it('has the published root', () => {
    expect(toHex(treeHash(8, store))).toBe(
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    );
  });

  it('proves exactly the happy-path proofs', () => {
    for (const [, p] of inclusion.filter(([, p]) => !p.wantErr)) {
      expect(toHex(treeHash(p.treeSize, store))).toBe(toHex(fromBase64(p.root)));
      expect(proveInclusion(p.leafIdx, p.treeSize, store).map(toHex)).toEqual(proofOf(p.proof).map(toHex));
    }
    for (const [, p] of consistency.filter(([, p]) => !p.wantErr)) {
      expect(toHex(treeHash(p.size1, store))).toBe(toHex(fromBase64(p.root1)));
      expect(toHex(treeHash(p.size2, store))).toBe(toHex(fromBase64(p.root2)));
      expect(proveConsistency(p.size1, p.size2, store).map(toHex)).toEqual(proofOf(p.proof).map(toHex));
    }
  });
});
