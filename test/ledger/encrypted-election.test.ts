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
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromUtf8, toHex } from '../../ledger/bytes.js';
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
  ballotStatus,
  electionSummary,
  RuleError,
  stateKey,
  stateKeys,
  type CeremonyState,
  type CredentialState,
  type ElectionState,
  type EncryptedSumState,
} from '../../ledger/rules.js';
import { allocateSeats } from '../../ledger/seats.js';
import { electionResults } from '../../ledger/results.js';
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

describe('the homomorphic tally', () => {
  const DISTRICTS = ['north-1', 'north-2', 'south-1', 'south-2'];
  const PARTIES = ['s', 'm', 'sd', 'c'];
  const sumsOf = (log: ReturnType<typeof logAt>, d: string) =>
    log.state.read(stateKey.encryptedSum(f.id, d)) as EncryptedSumState | undefined;
  const electionOf = (log: ReturnType<typeof logAt>) =>
    log.state.read(stateKey.election(f.id)) as ElectionState;

  /** An election night: every voter votes, two re-vote, one votes on paper; voting closes; paper reports per district. */
  function night() {
    const log = logAt(f, 'open');
    const truth = new Map<string, Choices>();
    const cast = (v: Voter, choices: Choices) => {
      log.accept(c.ballot(v, choices));
      truth.set(v.key, choices);
    };
    f.voters.forEach((v, i) => cast(v, { riksdag: { [PARTIES[i % 4]!]: 1 }, referendum: { yes: i % 2 } }));
    cast(f.voters[0]!, { riksdag: { m: 1 }, referendum: { no: 1 } });
    cast(f.voters[5]!, { riksdag: { sd: 1 } });
    log.accept(f.override(f.voters[1]!));
    truth.delete(f.voters[1]!.key);
    log.accept(f.phase('close'));
    for (const d of DISTRICTS) {
      log.accept(f.report(d, 'riksdag', 'final', { s: 10, m: 5, sd: 3, c: 2 }));
      log.accept(f.report(d, 'referendum', 'final', { yes: 7, no: 9 }));
    }
    return { log, truth };
  }

  /** E-votes per option of `contest` among the counted voters of `districts` (all by default). */
  function expected(truth: Map<string, Choices>, contest: string, options: string[], districts = DISTRICTS) {
    const voters = f.voters.filter((v) => districts.includes(v.district) && truth.has(v.key));
    return Object.fromEntries(
      options.map((o) => [o, voters.filter((v) => (truth.get(v.key)![contest]?.[o] ?? 0) === 1).length]),
    );
  }

  const decryptAll = (log: ReturnType<typeof logAt>, guardians: number[]) => {
    for (const d of DISTRICTS)
      for (const g of guardians) {
        const sums = sumsOf(log, d);
        if (sums && !sums.decryptions?.[g]) log.accept(c.decryption(g, d, sums));
      }
  };

  it('is decrypted by any quorum of guardians (one absent), and joins the paper counts in the tally and the seats', () => {
    const { log, truth } = night();
    // One guardian's decryption is not enough.
    log.accept(c.decryption(1, 'north-1', sumsOf(log, 'north-1')!));
    expect(sumsOf(log, 'north-1')!.votes).toBeUndefined();
    // The tally still counts paper alone, provisionally.
    let tally = JSON.parse(fromUtf8(f.tally(log))).body;
    expect(tally.contests.riksdag.eballots.decrypted.ballots).toBe(0);
    expect(tally.contests.riksdag.provisional).toBe(true);
    // Guardian 3 completes the quorum; guardian 2 is absent.
    log.accept(c.decryption(3, 'north-1', sumsOf(log, 'north-1')!));
    expect(sumsOf(log, 'north-1')!.votes!.riksdag).toEqual(expected(truth, 'riksdag', PARTIES, ['north-1']));
    expect(electionOf(log).changed).toBe(log.size - 1);
    for (const d of DISTRICTS.slice(1))
      for (const g of [3, 1]) log.accept(c.decryption(g, d, sumsOf(log, d)!));
    for (const d of DISTRICTS) {
      expect(sumsOf(log, d)!.votes!.riksdag, d).toEqual(expected(truth, 'riksdag', PARTIES, [d]));
      expect(sumsOf(log, d)!.votes!.referendum, d).toEqual(expected(truth, 'referendum', ['yes', 'no'], [d]));
    }
    // Guardian 2, late, decrypts too: admitted, and nothing counted changes.
    const votes = log.state.read(stateKey.encryptedVotes(f.id));
    log.accept(c.decryption(2, 'south-2', sumsOf(log, 'south-2')!));
    expect(log.state.read(stateKey.encryptedVotes(f.id))).toEqual(votes);

    log.accept(f.tally(log)); // the rules admit exactly this tally
    tally = JSON.parse(fromUtf8(f.tally(log))).body;
    const riksdag = tally.contests.riksdag;
    const e = expected(truth, 'riksdag', PARTIES);
    expect(riksdag.eballots.decrypted).toEqual({ ballots: 11, weight: 11, districts: 4, votes: e });
    expect(riksdag.eballots.ballots).toBe(11);
    for (const p of PARTIES) {
      expect(riksdag.final.votes[p]).toBe(4 * { s: 10, m: 5, sd: 3, c: 2 }[p]!);
      expect(riksdag.counted.votes[p]).toBe(riksdag.final.votes[p] + e[p]!);
    }
    expect(riksdag.provisional).toBe(false);
    // District by district: each polling district's e-votes with the decryptions that gave them, summed up the tree.
    const results = electionResults(electionSummary(log.state.read, f.id)!, log.state.entries());
    const byId = new Map(results.districts.map((d) => [d.id, d]));
    expect(byId.get('se')!.contests.riksdag!.eballots.decrypted).toEqual({ districts: 4, votes: e });
    const north1 = byId.get('north-1')!.contests.riksdag!.eballots.decrypted!;
    expect(north1.votes).toEqual(expected(truth, 'riksdag', PARTIES, ['north-1']));
    expect(north1.records).toHaveLength(2);
    const referendum = tally.contests.referendum;
    const r = expected(truth, 'referendum', ['yes', 'no']);
    expect(referendum.counted.votes).toEqual({ yes: 28 + r.yes!, no: 36 + r.no! });
    // The seats are allocated over paper and e-votes together.
    const contest = f.body.contests[0]!;
    expect(riksdag.seats).toEqual(
      allocateSeats({
        contest: 'riksdag',
        method: contest.method,
        seats: contest.seats,
        options: PARTIES,
        votes: riksdag.counted.votes,
        seed: fromBase64(tally.seed.root),
      }),
    );
  });

  it('voids a decryption when an override changes the sums after it; the guardians decrypt again', () => {
    const { log, truth } = night();
    decryptAll(log, [1, 2]);
    const old = sumsOf(log, 'north-2')!;
    expect(old.votes).toBeDefined();
    const late = f.voters.find((v) => v.district === 'north-2' && truth.has(v.key))!;
    log.accept(f.override(late));
    truth.delete(late.key);
    const now = sumsOf(log, 'north-2')!;
    expect(now.votes).toBeUndefined();
    expect(now.decryptions).toBeUndefined();
    let tally = JSON.parse(fromUtf8(f.tally(log))).body;
    expect(tally.contests.riksdag.eballots.decrypted.districts).toBe(3);
    expect(tally.contests.riksdag.provisional).toBe(true);
    // A decryption of the sums as they were is refused; of the sums as they are, counted.
    const stale = log.submit(c.decryption(3, 'north-2', old));
    expect('error' in stale && stale.error.code).toBe('stale_decryption');
    decryptAll(log, [2, 3]);
    tally = JSON.parse(fromUtf8(f.tally(log))).body;
    expect(tally.contests.riksdag.eballots.decrypted.votes).toEqual(expected(truth, 'riksdag', PARTIES));
    expect(tally.contests.riksdag.eballots.decrypted.ballots).toBe(10);
    expect(tally.contests.riksdag.provisional).toBe(false);
  });
});

describe('a Benaloh challenge', () => {
  it('publishes the spoiled ballot under its tracker, counts nothing, and the voter then votes', () => {
    const log = logAt(f, 'open');
    const v = f.voters[0]!;
    const { ballot, spoiled } = c.spoil(v, { riksdag: { sd: 1 }, referendum: { no: 1 } });
    const before = log.state.read(stateKey.election(f.id));
    log.accept(spoiled);
    const tracker = toHex(decodeRecord(ballot).leafHash);
    expect(log.state.read(stateKey.ballot(tracker))).toEqual({
      election: f.id,
      credential: v.key,
      index: log.size - 1,
      spoiled: true,
    });
    expect(ballotStatus(log.state.read, tracker)).toEqual({
      tracker,
      election: f.id,
      credential: v.key,
      index: log.size - 1,
      status: 'spoiled',
      last: null,
      override: null,
    });
    expect(log.state.read(stateKey.election(f.id))).toEqual(before);
    expect(log.state.read(stateKey.encryptedSum(f.id, v.district))).toBeUndefined();
    const again = log.submit(ballot);
    expect('error' in again && again.error.code).toBe('spoiled_ballot');
    log.accept(c.ballot(v, { riksdag: { s: 1 } }));
    expect(
      (log.state.read(stateKey.encryptedSum(f.id, v.district)) as EncryptedSumState).contests.riksdag!
        .ballots,
    ).toBe(1);
  });
});

describe('known answers (test/vectors/urna-encrypted-election.json)', () => {
  it('gives the pinned records of an encrypted election: the ceremony, a ballot, a spoiled one, a decryption', () => {
    const fk = buildElection({ id: 'kat-2026', voters: 4, guardians: { count: 3, quorum: 2 } });
    const k = keyCeremony(fk);
    const log = logAt(fk, 'open');
    const ballot = k.ballot(fk.voters[0]!, { riksdag: { m: 1 }, referendum: { no: 1 } });
    const spoiled = k.spoil(fk.voters[1]!, { riksdag: { c: 1 } }).spoiled;
    log.accept(ballot, spoiled, fk.phase('close'));
    const sums = log.state.read(stateKey.encryptedSum(fk.id, 'north-1')) as EncryptedSumState;
    const decryption = k.decryption(2, 'north-1', sums);
    log.accept(decryption);
    const hex = (bytes: Uint8Array) => toHex(decodeRecord(bytes).leafHash);
    const got = {
      electionKey: k.keyB64,
      ceremony: log.records
        .filter((r) => ['guardian', 'shares', 'accept'].includes(decodeRecord(r).record.type))
        .map(hex),
      ballot: hex(ballot),
      spoiled: hex(spoiled),
      decryption: hex(decryption),
    };
    const file = new URL('../vectors/urna-encrypted-election.json', import.meta.url);
    if (process.env.URNA_WRITE_VECTORS === '1') writeFileSync(file, JSON.stringify(got, null, 2) + '\n');
    expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});
