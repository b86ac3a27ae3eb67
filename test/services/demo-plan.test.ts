// The `urna demo` generator: the same seed gives byte-identical records,
// another seed others; the whole election night is accepted by the rules in
// the demo's order (through the in-memory admission path of the sequencer),
// with reports within each district's electorate, the correction superseding
// the first final report, and a tally equal to the sums of the final reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nobleEd25519, setEd25519Backend } from '../../ledger/ed25519.js';
import {
  ballotStatus,
  electionSummary,
  stateKey,
  type EncryptedSumState,
  type ReportState,
} from '../../ledger/rules.js';
import { decodeRecord, signRecord, type ReportRecord, type TallyBody } from '../../ledger/record.js';
import { electionResults } from '../../ledger/results.js';
import { DEMO_CONTESTS, DemoElection, Rng, type DemoOptions } from '../../services/cli/demo-plan.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { countedTally, RecordLog, testKey } from '../helpers/election.js';

const authority = testKey('demo/authority');
const small: DemoOptions = { seed: 'unit', authority: authority.seed, districts: 60, voters: 300 };

// The demo signs with this backend; signatures are the same as the portable one's.
beforeAll(() => setEd25519Backend(nativeEd25519));
afterAll(() => setEd25519Backend(nobleEd25519));

/** Every record of the night except the tallies, in the demo's order. */
function allRecords(demo: DemoElection): Uint8Array[] {
  return [...demo.night()];
}

describe('Rng', () => {
  it('is a deterministic function of its label with values in range', () => {
    const a = new Rng('x');
    const b = new Rng('x');
    const xs = Array.from({ length: 1000 }, () => a.int(3, 9));
    expect(Array.from({ length: 1000 }, () => b.int(3, 9))).toEqual(xs);
    expect(new Set(xs)).toEqual(new Set([3, 4, 5, 6, 7, 8, 9]));
    expect(new Rng('y').bytes(16)).not.toEqual(new Rng('x').bytes(16));
    expect(new Rng('x').bytes(7)).toHaveLength(7);
  });
});

describe('DemoElection', () => {
  it('gives byte-identical records for the same seed, whatever the order they are made in', () => {
    const one = new DemoElection(small);
    const two = new DemoElection(small);
    // Ask the second in another order: nothing may depend on call order.
    const truth = two.groundTruth();
    const reports = [...two.reports('final')];
    expect(allRecords(one)).toEqual(allRecords(two));
    expect([...one.reports('final')]).toEqual(reports);
    expect(one.groundTruth()).toEqual(truth);
    expect(one.exampleTrackers()).toEqual(two.exampleTrackers());
  });

  it('gives other records for another seed', () => {
    const a = allRecords(new DemoElection(small));
    const b = allRecords(new DemoElection({ ...small, seed: 'other' }));
    const same = a.filter((r, i) => b[i] !== undefined && Buffer.from(r).equals(Buffer.from(b[i]!)));
    expect(same).toEqual([]);
  });

  it('builds a country → county → municipality → polling district tree with consistent electorates', () => {
    const demo = new DemoElection(small);
    const byId = new Map(demo.body.districts.map((d) => [d.id, d]));
    expect(demo.body.districts.filter((d) => d.parent === null).map((d) => d.id)).toEqual(['se']);
    expect(demo.body.districts.filter((d) => d.parent === 'se')).toHaveLength(21);
    expect(demo.polling).toHaveLength(60);
    for (const d of demo.body.districts) {
      const children = demo.body.districts.filter((c) => c.parent === d.id);
      if (children.length) expect(d.electorate).toBe(children.reduce((n, c) => n + c.electorate, 0));
    }
    for (const p of demo.polling) {
      const municipality = byId.get(p.parent!)!;
      expect(municipality.parent).toBe(demo.countyOf.get(p.id));
      expect(demo.voters.filter((v) => v.district === p.id).length).toBeLessThanOrEqual(p.electorate);
    }
    expect(demo.body.roles.reporters.map((r) => r.district)).toEqual(
      demo.body.districts.filter((d) => d.parent === 'se').map((d) => d.id),
    );
  });

  it('is accepted record by record by the rules, and its tally equals the ground truth exactly', () => {
    const demo = new DemoElection(small);
    const log = new RecordLog([authority.key]);
    log.accept(...allRecords(demo));
    const sign = (body: TallyBody) =>
      signRecord({ v: 1, type: 'tally', election: demo.id, body }, demo.counterSeed);
    const provisional = countedTally(log, demo.id, log.size);
    log.accept(sign(provisional));
    log.accept(demo.phase('final'));
    const final = countedTally(log, demo.id, log.size);
    log.accept(sign(final));

    const summary = electionSummary(log.state.read, demo.id)!;
    const voted = demo.voters.filter((v) => v.votes);
    const overridden = demo.voters.filter((v) => v.overridden);
    const reports = demo.reportCount('preliminary') + demo.reportCount('final') + 1;
    expect(summary.phase).toBe('final');
    expect(summary.counts).toEqual({
      districts: demo.body.districts.length,
      credentials: demo.voters.length,
      ballots: voted.length + demo.voters.filter((v) => v.revotes).length,
      voters: voted.length,
      counted: voted.filter((v) => !v.overridden).length,
      overrides: overridden.length,
      reports,
      tallies: 2,
      polling: 60,
      electorate: demo.polling.reduce((n, d) => n + d.electorate, 0),
    });
    expect(overridden.length).toBeGreaterThan(0);
    expect(demo.voters.some((v) => v.revotes)).toBe(true);
    expect(demo.unreported.size).toBeGreaterThan(0);
    expect(demo.noFinal.size).toBeGreaterThan(0);

    // The correction superseded the district's first final report.
    const fix = demo.correction();
    const report = log.state.read(
      stateKey.report(demo.id, fix.district, fix.contest, 'final'),
    ) as ReportState;
    expect(report.indexes).toHaveLength(2);
    expect(report.counts).toEqual(fix.counts.counts);

    // Both tallies equal what the plan says, figure by figure; the seats are provisional (districts missing).
    const truth = demo.groundTruth();
    for (const body of [provisional, final]) {
      for (const c of DEMO_CONTESTS) {
        const t = body.contests[c]!;
        expect({
          preliminary: t.preliminary,
          final: t.final,
          counted: t.counted,
          eballots: t.eballots.ballots,
        }).toEqual(truth[c]);
        expect(t.eballots.weight).toBe(truth[c]!.eballots);
        expect(t.provisional).toBe(true);
        expect(Object.values(t.seats.seats).reduce((a, b) => a + b, 0)).toBe(
          demo.body.contests.find((x) => x.id === c)!.seats,
        );
      }
    }
    expect(provisional.phase).toBe('close');
    expect(final.phase).toBe('final');
    // The district view sums to the same totals at the root.
    const results = electionResults(summary, log.state.entries());
    const root = results.districts[0]!;
    expect(root.id).toBe('se');
    for (const c of DEMO_CONTESTS) {
      expect(root.contests[c]!.sums).toEqual({
        preliminary: truth[c]!.preliminary,
        final: truth[c]!.final,
        counted: truth[c]!.counted,
      });
      expect(root.contests[c]!.eballots.ballots).toBe(truth[c]!.eballots);
    }
    const missing = results.discrepancies.filter((d) => d.kind === 'unreported').map((d) => d.district);
    expect(new Set(missing)).toEqual(demo.unreported);
    const noFinal = results.discrepancies.filter((d) => d.kind === 'no_final').map((d) => d.district);
    expect(new Set(noFinal)).toEqual(demo.noFinal);
    expect(results.discrepancies.some((d) => d.kind === 'differs')).toBe(true);

    // Preliminary counts never exceed the final ones, and the example trackers have their statuses.
    for (const bytes of log.records) {
      const r = decodeRecord(bytes).record;
      if (r.type !== 'report' || r.body.stage !== 'preliminary') continue;
      const f = demo.finalCounts(r.body.district, r.body.contest);
      for (const [o, n] of Object.entries((r as ReportRecord).body.counts))
        expect(n).toBeLessThanOrEqual(f.counts[o]!);
    }
    const examples = demo.exampleTrackers();
    expect(Object.keys(examples).sort()).toEqual(['included', 'overridden', 'superseded']);
    for (const [status, tracker] of Object.entries(examples))
      expect(ballotStatus(log.state.read, tracker!)?.status).toBe(status);
  });

  it('encrypted: a key ceremony, encrypted ballots, a quorum decrypting every district, e-votes equal to the plan', () => {
    const demo = new DemoElection({
      ...small,
      seed: 'unit-enc',
      districts: 6,
      voters: 40,
      guardians: { count: 3, quorum: 2 },
    });
    const log = new RecordLog([authority.key]);
    log.accept(...allRecords(demo));
    expect(demo.decryptingGuardians).toEqual([1, 2]);
    for (const d of demo.polling) {
      const sums = log.state.read(stateKey.encryptedSum(demo.id, d.id)) as EncryptedSumState | undefined;
      if (sums) for (const g of demo.decryptingGuardians) log.accept(demo.decryption(g, d.id, sums));
    }
    const tally = countedTally(log, demo.id, log.size);
    log.accept(signRecord({ v: 1, type: 'tally', election: demo.id, body: tally }, demo.counterSeed));
    const truth = demo.groundTruth();
    for (const c of DEMO_CONTESTS) {
      const t = tally.contests[c]!;
      const evotes = truth[c]!.evotes!;
      expect(Object.values(evotes).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(t.eballots.decrypted).toEqual({
        ballots: truth[c]!.eballots,
        weight: truth[c]!.eballots,
        districts: new Set(demo.voters.filter((v) => v.votes && !v.overridden).map((v) => v.district)).size,
        votes: evotes,
      });
      for (const [o, n] of Object.entries(truth[c]!.counted.votes))
        expect(t.counted.votes[o]).toBe(n + evotes[o]!);
    }
    // The same seed gives the same encrypted records (nonces from the seed), so a rerun resumes.
    const again = new DemoElection({
      ...small,
      seed: 'unit-enc',
      districts: 6,
      voters: 40,
      guardians: { count: 3, quorum: 2 },
    });
    expect(again.ballot(0, 1)).toEqual(demo.ballot(0, 1));
  });

  it('keeps each district report within its electorate even with many voters in few districts', () => {
    const demo = new DemoElection({ ...small, districts: 2, voters: 3000 });
    for (const d of demo.polling) {
      expect(d.electorate).toBeGreaterThanOrEqual(demo.voters.filter((v) => v.district === d.id).length);
      for (const c of DEMO_CONTESTS) {
        const f = demo.finalCounts(d.id, c);
        const total = f.blank + f.invalid + Object.values(f.counts).reduce((a, b) => a + b, 0);
        expect(total).toBeLessThanOrEqual(d.electorate);
        expect(total).toBeGreaterThan(0.7 * d.electorate);
      }
    }
    expect(demo.body.districts.filter((d) => d.parent === 'se')).toHaveLength(2);
  });
});
