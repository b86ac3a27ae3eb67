/**
 * services/cli/encrypted-ballot.ts: `--choices` read against an election's
 * contests, and the spoiled-ballot file, formatted and parsed back.
 */
import { describe, expect, it } from 'vitest';
import { ballotTracker, decodeRecord, signRecord } from '../../ledger/record.js';
import {
  choicesText,
  formatSpoiled,
  parseChoices,
  parseSpoiled,
} from '../../services/cli/encrypted-ballot.js';
import { UsageError } from '../../services/cli/usage-error.js';
import { buildElection } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';

const f = buildElection({ id: 'choices-2026', guardians: { count: 2, quorum: 2 } });
const contests = f.body.contests;

describe('parseChoices', () => {
  it("gives one vote per option named, blank for CONTEST=, in the election's contest order", () => {
    expect(parseChoices(['referendum=no', 'riksdag=m'], contests)).toEqual({
      riksdag: { m: 1 },
      referendum: { no: 1 },
    });
    expect(parseChoices(['referendum='], contests)).toEqual({ referendum: {} });
    expect(choicesText({ riksdag: { m: 1, s: 0 }, referendum: {} })).toBe('riksdag: m; referendum: blank');
  });

  it.each([
    [['riksdag=x'], /contest riksdag has no option x \(it has s, m, sd, c\)/],
    [['senate=s'], /no contest senate \(it has riksdag, referendum\)/],
    [['riksdag=s', 'riksdag=s'], /riksdag=s given twice/],
    [['riksdag'], /expected CONTEST=OPTION/],
    [[], /empty/],
  ])('refuses %j as a usage error', (entries, message) => {
    expect(() => parseChoices(entries, contests)).toThrow(UsageError);
    expect(() => parseChoices(entries, contests)).toThrow(message);
  });
});

describe('the spoiled-ballot file', () => {
  it('round-trips: the record bytes (so the tracker), the nonces and the choices', () => {
    const c = keyCeremony(f);
    const voter = f.voters[0]!;
    const choices = { riksdag: { c: 1 }, referendum: { yes: 1 } };
    const { body, nonces } = c.ballotBody(voter, choices);
    const bytes = signRecord({ v: 1, type: 'ballot', election: f.id, body }, voter.seed);
    const tracker = ballotTracker(bytes);
    const text = formatSpoiled(decodeRecord(bytes).record, tracker, nonces, choices);
    const parsed = parseSpoiled(text, 'test');
    expect(parsed.bytes).toEqual(bytes);
    expect(parsed.file.tracker).toBe(tracker);
    expect(parsed.openings).toEqual([
      { contest: 'riksdag', nonces: nonces.riksdag, choices: { c: 1 } },
      { contest: 'referendum', nonces: nonces.referendum, choices: { yes: 1 } },
    ]);
    expect(() => parseSpoiled('{"v":1}', 'test')).toThrow(UsageError);
    const bad = JSON.parse(text);
    bad.openings[0].nonces[0] = 'not a scalar';
    expect(() => parseSpoiled(JSON.stringify(bad), 'test')).toThrow(/nonces\[0\]/);
  });
});
