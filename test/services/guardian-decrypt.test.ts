/**
 * `urna guardian decrypt`'s choice of work (services/cli/guardian-decrypt.ts
 * decryptionProgress): over a replayed state, the districts whose encrypted
 * sums a guardian has not decrypted as they stand, and only this election's.
 */
import { describe, expect, it } from 'vitest';
import type { EncryptedSumState, StateValue } from '../../ledger/rules.js';
import { decryptionProgress } from '../../services/cli/guardian-decrypt.js';

const sums = (changed: number, extra: Partial<EncryptedSumState> = {}): EncryptedSumState => ({
  contests: {
    riksdag: { ballots: 3, weight: 3, sum: 'AAAA' },
    referendum: { ballots: 2, weight: 2, sum: 'BBBB' },
  },
  changed,
  ...extra,
});

const decrypted = (record: number) => ({ record, shares: { riksdag: [], referendum: [] } });

describe('decryptionProgress', () => {
  it("lists the districts a guardian has still to decrypt, in id order, and counts the others'", () => {
    const entries: Array<[string, StateValue]> = [
      ['election/e', {}],
      ['esum/e/d3', sums(30)],
      ['esum/e/d1', sums(10, { decryptions: { 2: decrypted(40) } })],
      ['esum/e/d2', sums(20, { decryptions: { 1: decrypted(41), 2: decrypted(42) }, votes: {} })],
      ['esum/other/d9', sums(50)],
      ['esum/e-2/d8', sums(60)], // another election whose id starts alike
    ] as Array<[string, StateValue]>;
    const p = decryptionProgress(entries, 'e', 1);
    expect(p).toMatchObject({ districts: 3, mine: 1, quorum: 1 });
    expect(p.pending).toEqual([
      { district: 'd1', changed: 10, ballots: 3, sums: { riksdag: 'AAAA', referendum: 'BBBB' } },
      { district: 'd3', changed: 30, ballots: 3, sums: { riksdag: 'AAAA', referendum: 'BBBB' } },
    ]);
    expect(decryptionProgress(entries, 'e', 2).pending.map((d) => d.district)).toEqual(['d3']);
    expect(decryptionProgress(entries, 'none', 1)).toEqual({ districts: 0, mine: 0, quorum: 0, pending: [] });
  });
});
