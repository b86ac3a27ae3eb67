/**
 * An encrypted election through the rules (ledger/rules.ts with
 * ledger/encrypted-election.ts): the key ceremony fixes the election key
 * before voting opens; every guardian opens the shares sent to it from the
 * log and finds them right; encrypted ballots, re-votes and a paper
 * override leave per district the homomorphic sum of exactly the counted
 * ballots, which any two of the three guardians decrypt to the plaintext
 * ground truth. Precomputed proof verdicts are used, and only for the key
 * and hash they were computed under. (Every rejection is in the shared
 * table, test/helpers/rule-cases.ts.)
 */
import { describe, expect, it } from 'vitest';
import { fromBase64, fromUtf8 } from '../../ledger/bytes.js';
import { openShare, sealedCiphertexts } from '../../ledger/encrypted-election.js';
import {
  combine,
  guardianKey,
  keyShare,
  keyShareImage,
  partialDecrypt,
  shareFor,
  verifyPartialDecryption,
} from '../../ledger/guardian.js';
import { decodeRecord, type SharesBody } from '../../ledger/record.js';
import {
  applyRecord,
  RuleError,
  stateKey,
  stateKeys,
  type CeremonyState,
  type CredentialState,
  type ElectionState,
  type EncryptedSumState,
} from '../../ledger/rules.js';
import { buildElection, logAt, type Voter } from '../helpers/election.js';
import { keyCeremony, type Choices } from '../helpers/encrypted-election.js';

const f = buildElection({ id: 'enc-2026', voters: 12, guardians: { count: 3, quorum: 2 } });
const c = keyCeremony(f);

describe('the key ceremony', () => {
  it('fixes the election key once every guardian accepted it, and the election opens', () => {
    const log = logAt(f);
    const records = c.records();
    log.accept(...records.slice(0, 8));
    expect((log.state.read(stateKey.election(f.id)) as ElectionState).key).toBeNull();
    log.accept(records[8]!);
    const election = log.state.read(stateKey.election(f.id)) as ElectionState;
    expect(election.key).toBe(c.keyB64);
    const ceremony = log.state.read(stateKey.ceremony(f.id)) as CeremonyState;
    expect(Object.keys(ceremony.guardians)).toEqual(['1', '2', '3']);
    expect(ceremony.key).toBe(c.keyB64);
    log.accept(f.phase('open'));
  });

  it("lets each guardian open the shares sent to it from the log's records, and names a sender whose share is wrong", () => {
    const log = logAt(f, 'open');
    const keys = c.secrets.map((s) => guardianKey(s, c.hash));
    const shares = log.records
      .map((bytes) => decodeRecord(bytes).record)
      .filter((r) => r.type === 'shares')
      .map((r) => r.body as SharesBody);
    expect(shares).toHaveLength(3);
    for (const to of [1, 2, 3])
      for (const body of shares.filter((b) => b.index !== to)) {
        const opened = openShare(body, to, c.zetas[to - 1]!, keys[body.index - 1]!, c.hash);
        expect(opened).toBe(shareFor(c.secrets[body.index - 1]!, to));
      }
    // Guardian 2 opens with guardian 3's commitments in place of guardian 1's: the share is wrong.
    expect(openShare(shares[0]!, 2, c.zetas[1]!, keys[2]!, c.hash)).toBe('wrong');
    // Another guardian's communication secret cannot read it.
    expect(openShare(shares[0]!, 2, c.zetas[2]!, keys[0]!, c.hash)).toBe('unreadable');
    expect(openShare(shares[0]!, 1, c.zetas[0]!, keys[0]!, c.hash)).toBe('missing');
  });
});

/** Decrypts a district's sum with guardians `who` (any quorum), from the shares they received. */
function decryptSum(sum: EncryptedSumState, contest: string, who: number[]): number[] {
  const keys = c.secrets.map((s) => guardianKey(s, c.hash));
  const cts = sealedCiphertexts(sum.contests[contest]!.sum);
  return cts.map((ct) => {
    const parts = who.map((l) => {
      const s = keyShare(c.secrets.map((secret) => shareFor(secret, l)));
      const d = partialDecrypt(ct, l, s, c.hash);
      expect(verifyPartialDecryption(ct, d, keyShareImage(keys, l), c.hash)).toBe(true);
      return d;
    });
    return combine(ct, parts, c.key, sum.contests[contest]!.weight);
  });
}

describe('encrypted ballots', () => {
  it('keep per district the sum of the counted ballots, re-votes and overrides included, which any two guardians decrypt', () => {
    const log = logAt(f, 'open');
    const truth = new Map<string, Choices>();
    const cast = (v: Voter, choices: Choices) => {
      log.accept(c.ballot(v, choices));
      truth.set(v.key, choices);
    };
    const parties = ['s', 'm', 'sd', 'c'];
    f.voters.forEach((v, i) =>
      cast(v, { riksdag: { [parties[i % 4]!]: 1 }, referendum: { yes: i % 3 === 0 ? 1 : 0 } }),
    );
    // Re-votes: the last ballot counts; one answers the riksdag only.
    cast(f.voters[0]!, { riksdag: { m: 1 }, referendum: { no: 1 } });
    cast(f.voters[4]!, { riksdag: { c: 1 } });
    // A blank riksdag vote.
    cast(f.voters[8]!, { riksdag: {}, referendum: { no: 1 } });
    // voters[1] voted on paper: its e-ballot no longer counts.
    log.accept(f.override(f.voters[1]!));
    truth.delete(f.voters[1]!.key);

    for (const district of ['north-1', 'north-2', 'south-1', 'south-2']) {
      const sum = log.state.read(stateKey.encryptedSum(f.id, district)) as EncryptedSumState;
      const voters = f.voters.filter((v) => v.district === district && truth.has(v.key));
      for (const [contest, options] of [
        ['riksdag', parties],
        ['referendum', ['yes', 'no']],
      ] as const) {
        const answering = voters.filter((v) => truth.get(v.key)![contest] !== undefined);
        expect(sum.contests[contest]?.ballots ?? 0, `${district} ${contest}`).toBe(answering.length);
        if (answering.length === 0 && sum.contests[contest] === undefined) continue;
        const expected = options.map(
          (o) => answering.filter((v) => truth.get(v.key)![contest]![o] === 1).length,
        );
        expect(decryptSum(sum, contest, [1, 3]), `${district} ${contest}`).toEqual(expected);
        expect(decryptSum(sum, contest, [2, 3])).toEqual(expected);
      }
    }
    const cred = log.state.read(stateKey.credential(f.id, f.voters[4]!.key)) as CredentialState;
    expect(Object.keys(cred.sealed!)).toEqual(['riksdag']);
  });

  it('uses a precomputed proof verdict for the key and hash it was computed under, and none other', () => {
    const log = logAt(f, 'open');
    const bytes = c.ballot(f.voters[0]!);
    const decoded = decodeRecord(bytes);
    const election = log.state.read(stateKey.election(f.id)) as ElectionState;
    const asked: Array<{ key: string; hash: string }> = [];
    const verdict = (value: boolean | undefined) => ({
      ...log.ctx,
      provenBallot: (_tracker: string, e: { key: string; hash: string }) => (asked.push(e), value),
    });
    const apply = (ctx: ReturnType<typeof verdict>) => applyRecord(log.state.read, decoded, log.size, ctx);
    // A verdict of false refuses the (valid) ballot: the rules took the verdict.
    const refused = apply(verdict(false));
    expect(refused).toBeInstanceOf(RuleError);
    expect((refused as RuleError).code).toBe('invalid_proof');
    expect(asked.at(-1)).toEqual({ key: election.key, hash: election.hash });
    // No verdict: the rules verify the proofs themselves.
    expect(apply(verdict(undefined))).not.toBeInstanceOf(RuleError);
    expect(stateKeys(decoded)).toContain(stateKey.encryptedSum(f.id, 'north-1'));
    expect(JSON.parse(fromUtf8(bytes)).body.district).toBe('north-1');
    expect(fromBase64(election.hash)).toEqual(c.hash);
  });
});
