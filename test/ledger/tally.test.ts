// The counting function (ledger/tally.ts) against a recount: over random
// sequences of reports (both stages, corrections, districts that never
// report), the sums the rules keep per unit add up to what the district view
// (ledger/results.ts) recounts from the current reports, for one tier and
// for two tiers; the tally the rules admit is exactly tallyBody's; and
// e-ballots follow re-votes that answer other contests and overrides.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContestDef } from '../../ledger/record.js';
import { electionResults } from '../../ledger/results.js';
import { stateKey, type ElectionState } from '../../ledger/rules.js';
import type { ContestCountState } from '../../ledger/tally.js';
import { buildElection, countedTally, LEAF_DISTRICTS, logAt, RecordLog } from '../helpers/election.js';

const f = buildElection({ id: 'tally-2026', voters: 8 });
/** The fixture's riksdag contest in two tiers: north and south as constituencies. */
const twoTier: ContestDef = {
  ...f.body.contests[0]!,
  method: {
    name: 'sainte-lague',
    firstDivisor: 1.2,
    threshold: 0.04,
    constituencies: { north: 150, south: 150 },
  },
};

function closedLog(contests: ContestDef[]): RecordLog {
  const log = new RecordLog(f.authorities);
  log.accept(f.election({ contests }), f.credentials(), f.phase('open'), f.phase('close'));
  return log;
}

const report = fc.record({
  district: fc.constantFrom(...LEAF_DISTRICTS),
  contest: fc.constantFrom('riksdag', 'referendum'),
  stage: fc.constantFrom('preliminary' as const, 'final' as const),
  a: fc.nat(40),
  b: fc.nat(40),
  blank: fc.nat(5),
});

describe('the counting function', () => {
  for (const [name, contests] of [
    ['one tier', f.body.contests],
    ['two tiers', [twoTier, f.body.contests[1]!]],
  ] as const) {
    it(`keeps sums equal to a recount of the current reports (${name})`, () => {
      fc.assert(
        fc.property(fc.array(report, { maxLength: 30 }), (reports) => {
          const log = closedLog([...contests]);
          for (const r of reports) {
            const c = contests.find((x) => x.id === r.contest)!;
            const [first, second] = c.options.map((o) => o.id);
            const counts = Object.fromEntries(c.options.map((o) => [o.id, 0]));
            counts[first!] = r.a;
            counts[second!] = r.b;
            log.submit(f.report(r.district, r.contest, r.stage, counts, { blank: r.blank }));
          }
          const election = log.state.read(stateKey.election(f.id)) as ElectionState;
          const tally = countedTally(log, f.id, log.size);
          const root = electionResults(election, log.state.entries()).districts[0]!;
          for (const c of contests) {
            expect(root.contests[c.id]!.sums).toEqual({
              preliminary: tally.contests[c.id]!.preliminary,
              final: tally.contests[c.id]!.final,
              counted: tally.contests[c.id]!.counted,
            });
            const units = (log.state.read(stateKey.count(f.id, c.id)) as ContestCountState | undefined)
              ?.units;
            if (c === twoTier && units)
              for (const u of Object.keys(units)) expect(['north', 'south']).toContain(u);
          }
          // The rules admit exactly this tally.
          expect('index' in log.submit(f.tally(log))).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('counts e-ballots after re-votes that answer other contests, and overrides', () => {
    const log = logAt(f, 'open');
    const [v0, v1, v2] = f.voters;
    log.accept(
      f.ballot(v0!),
      f.ballot(v0!, { contests: ['referendum'] }), // the re-vote answers only the referendum
      f.ballot(v1!),
      f.ballot(v2!, { contests: ['riksdag'] }),
      f.override(v1!),
      f.phase('close'),
    );
    const tally = countedTally(log, f.id, log.size);
    expect(tally.contests.riksdag!.eballots).toEqual({ ballots: 1, weight: 1 }); // v2
    expect(tally.contests.referendum!.eballots).toEqual({ ballots: 1, weight: 1 }); // v0
    const election = log.state.read(stateKey.election(f.id)) as ElectionState;
    const byDistrict = electionResults(election, log.state.entries()).districts;
    const se = byDistrict.find((d) => d.id === 'se')!;
    expect(se.contests.riksdag!.eballots.ballots).toBe(1);
    expect(byDistrict.find((d) => d.id === v2!.district)!.contests.riksdag!.eballots.ballots).toBe(1);
  });

  it('marks the seats provisional until every polling district reported finally', () => {
    const log = closedLog([...f.body.contests]);
    for (const d of LEAF_DISTRICTS.slice(0, 3))
      log.accept(f.report(d, 'referendum', 'final', { yes: 10, no: 5 }));
    expect(countedTally(log, f.id, log.size).contests.referendum!.provisional).toBe(true);
    log.accept(f.report(LEAF_DISTRICTS[3], 'referendum', 'final', { yes: 1, no: 50 }));
    const tally = countedTally(log, f.id, log.size).contests.referendum!;
    expect(tally.provisional).toBe(false);
    expect(tally.counted.votes).toEqual({ yes: 31, no: 65 });
    expect(tally.seats.seats).toEqual({ yes: 0, no: 1 });
  });
});
