/**
 * ledger/encrypted-election.ts checkSpoiledBallot: a Benaloh challenge's
 * opening shows what the ballot encrypts, and every lie in it is caught
 * (another choice, another nonce, openings out of order, another credential).
 */
import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../../ledger/bytes.js';
import { checkSpoiledBallot, type ContestOpening } from '../../ledger/encrypted-election.js';
import { buildElection } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';

const f = buildElection({ id: 'spoil-2026', guardians: { count: 3, quorum: 2 } });
const c = keyCeremony(f);
const voter = f.voters[0]!;
const choices = { riksdag: { sd: 1 }, referendum: {} };
const { body, nonces } = c.ballotBody(voter, choices);
const credential = fromBase64(voter.key);
const openings = (): ContestOpening[] =>
  body.contests.map((id) => ({
    contest: id,
    nonces: [...nonces[id]!],
    choices: { ...choices[id as keyof typeof choices] },
  }));

describe('checkSpoiledBallot', () => {
  it('opens each contest to the stated choices (absent options 0; a blank contest)', () => {
    expect(checkSpoiledBallot(c.ctx, body, credential, openings())).toEqual({
      ok: true,
      choices: { riksdag: { s: 0, m: 0, sd: 1, c: 0 }, referendum: { yes: 0, no: 0 } },
    });
  });

  it('refuses another choice, naming the contest and what it encrypts', () => {
    const o = openings();
    o[0]!.choices = { s: 1 };
    expect(checkSpoiledBallot(c.ctx, body, credential, o)).toEqual({
      ok: false,
      failure: { code: 'choices', contest: 'riksdag', encrypted: { s: 0, m: 0, sd: 1, c: 0 } },
    });
    o[0]!.choices = { sd: 1, nobody: 0 }; // an option the contest does not have
    expect(checkSpoiledBallot(c.ctx, body, credential, o)).toMatchObject({
      ok: false,
      failure: { code: 'choices' },
    });
  });

  it('refuses nonces that do not open the ciphertexts', () => {
    const o = openings();
    o[1]!.nonces.reverse();
    expect(checkSpoiledBallot(c.ctx, body, credential, o)).toEqual({
      ok: false,
      failure: { code: 'nonces', contest: 'referendum' },
    });
    o[1]!.nonces.pop(); // one nonce short
    expect(checkSpoiledBallot(c.ctx, body, credential, o)).toMatchObject({ failure: { code: 'nonces' } });
  });

  it("refuses openings out of the ballot's order, and a ballot whose proofs are for another credential", () => {
    expect(checkSpoiledBallot(c.ctx, body, credential, openings().reverse())).toEqual({
      ok: false,
      failure: { code: 'openings' },
    });
    expect(checkSpoiledBallot(c.ctx, body, fromBase64(f.voters[1]!.key), openings())).toEqual({
      ok: false,
      failure: { code: 'proofs' },
    });
  });
});
