// The election rules: a table of every rejection (decode-time and rule-time)
// with its code and status, each leaving the state and the log unchanged;
// happy-path scenarios (re-voting, overrides, report corrections, tallies);
// and determinism (replay twice, one-by-one admission equals replay, a
// model-based property over random election nights).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import { ballotTracker, decodeRecord } from '../../ledger/record.js';
import {
  applyRecord,
  ballotStatus,
  electionSummary,
  MemoryState,
  replay,
  RULE_ERROR_CODES,
  RuleError,
  stateKey,
  stateKeys,
  type ElectionState,
  type ReportState,
  type TallyState,
} from '../../ledger/rules.js';
import {
  buildElection,
  logAt,
  logRecord,
  RecordLog,
  TEST_LOG,
  testKey,
  type Voter,
} from '../helpers/election.js';

import { f, fNone, north, RIKSDAG, rows, south, statusOf } from '../helpers/rule-cases.js';

describe('rejections', () => {
  it.each(rows)('$name → $code ($status)', ({ setup, record, code, status }) => {
    const log = setup();
    const bytes = record(log);
    const before = log.state.snapshot();
    const size = log.size;
    const result = log.submit(bytes);
    expect('error' in result && result.error.code).toBe(code);
    if (!('error' in result)) return;
    expect(statusOf(result.error)).toBe(status);
    expect(result.error.message.length).toBeGreaterThan(0);
    // Nothing changed: the state is byte-identical and nothing was appended.
    expect(log.state.snapshot()).toBe(before);
    expect(log.size).toBe(size);
    // A rule rejection is returned by applyRecord itself, with no effects.
    if (result.error instanceof RuleError) {
      const outcome = applyRecord(log.state.read, decodeRecord(bytes), size, log.ctx);
      expect(outcome).toBeInstanceOf(RuleError);
    }
  });

  it('the table covers every rule error code', () => {
    const covered = new Set(rows.map((r) => r.code));
    for (const code of RULE_ERROR_CODES) expect(covered, code).toContain(code);
  });
});

/** A whole small election night; returns the log and the indexes of interest. */
function electionNight() {
  const log = new RecordLog(f.authorities);
  const extra: Voter = { ...testKey('north-3 voter'), district: 'north-3' };
  const [, iDistricts] = log.accept(
    f.election(),
    f.districts([{ id: 'north-3', parent: 'north', electorate: 50 }]),
    f.credentials(),
    f.phase('open'),
    f.credentials([extra]), // issuing during voting is allowed
  );
  const first = f.ballot(north);
  const second = f.ballot(north);
  const southBallot = f.ballot(south);
  const extraBallot = f.ballot(extra);
  const [iFirst, iSecond, iSouth, iExtra] = log.accept(first, second, southBallot, extraBallot);
  const [iOverride] = log.accept(f.override(south));
  log.accept(f.phase('close'));
  const lateOverride = f.voters[1]!; // north-2, voted before close
  log.accept(f.override(lateOverride, f.reporters.national));
  const [iPrelim, iCorrection] = log.accept(
    f.report('north-1', 'riksdag', 'preliminary', RIKSDAG, { by: f.reporters.north }),
    f.report('north-1', 'riksdag', 'preliminary', { ...RIKSDAG, c: 12 }, { by: f.reporters.north }),
  );
  const [iFinal] = log.accept(
    f.report('north-1', 'riksdag', 'final', { s: 41, m: 30, sd: 20, c: 12 }, { blank: 2, invalid: 1 }),
    f.report('north-3', 'referendum', 'preliminary', { yes: 30, no: 20 }, { by: f.reporters.north }),
  );
  log.accept(f.phase('final'));
  const size = log.size;
  const [iTally] = log.accept(f.tally(log));
  return {
    log,
    trackers: {
      first: ballotTracker(first),
      second: ballotTracker(second),
      south: ballotTracker(southBallot),
      extra: ballotTracker(extraBallot),
    },
    at: {
      iDistricts,
      iFirst,
      iSecond,
      iSouth,
      iExtra,
      iOverride,
      iPrelim,
      iCorrection,
      iFinal,
      iTally,
      size,
    },
  };
}

describe('an election night', () => {
  const night = electionNight();
  const { log, trackers, at } = night;

  it('keeps per-election counters and phases', () => {
    const summary = electionSummary(log.state.read, f.id)!;
    expect(summary.phase).toBe('final');
    expect(Object.keys(summary.phases)).toEqual(['open', 'close', 'final']);
    expect(summary.counts).toEqual({
      districts: 8,
      credentials: f.voters.length + 1,
      ballots: 4,
      voters: 3,
      counted: 2, // north and extra; south was overridden (f.voters[1] had not voted)
      overrides: 2,
      reports: 4,
      tallies: 1,
      polling: 5, // the four leaves and north-3
      electorate: 1050,
    });
    expect(summary.authority).toBe(f.authority.key);
    expect(summary.districtRecords).toEqual([at.iDistricts]);
    expect(summary.contests.map((c) => c.id)).toEqual(['riksdag', 'referendum']);
    expect(summary.tally).toEqual({
      index: at.iTally,
      size: at.size,
      root: toBase64(log.ctx.rootAt(at.size)),
    });
    expect(electionSummary(log.state.read, 'no-such-election')).toBeUndefined();
  });

  it('re-voting: the last ballot counts, the earlier one is superseded', () => {
    expect(ballotStatus(log.state.read, trackers.second)).toMatchObject({
      status: 'included',
      index: at.iSecond,
      last: at.iSecond,
      credential: north.key,
      election: f.id,
      override: null,
    });
    expect(ballotStatus(log.state.read, trackers.first)).toMatchObject({
      status: 'superseded',
      index: at.iFirst,
      last: at.iSecond,
    });
    expect(ballotStatus(log.state.read, trackers.extra)?.status).toBe('included');
  });

  it('an override removes the credential’s e-ballots', () => {
    expect(ballotStatus(log.state.read, trackers.south)).toMatchObject({
      status: 'overridden',
      index: at.iSouth,
      override: at.iOverride,
    });
  });

  it('a report correction supersedes the earlier report without erasing it', () => {
    const prelim = log.state.read(stateKey.report(f.id, 'north-1', 'riksdag', 'preliminary')) as ReportState;
    expect(prelim.current).toBe(at.iCorrection);
    expect(prelim.indexes).toEqual([at.iPrelim, at.iCorrection]);
    expect(prelim.counts).toEqual({ ...RIKSDAG, c: 12 });
    const final = log.state.read(stateKey.report(f.id, 'north-1', 'riksdag', 'final')) as ReportState;
    expect(final).toMatchObject({ current: at.iFinal, indexes: [at.iFinal], blank: 2, invalid: 1 });
  });

  it('districts added later sit in the tree, with their path from the root', () => {
    expect(log.state.read(stateKey.district(f.id, 'north-3'))).toMatchObject({
      parent: 'north',
      path: ['se', 'north', 'north-3'],
      index: at.iDistricts,
    });
    expect(log.state.read(stateKey.district(f.id, 'south-2'))).toMatchObject({
      path: ['se', 'south', 'south-2'],
    });
  });

  it('the tally is bound to the tree at its size', () => {
    const tally = log.state.read(stateKey.tally(f.id)) as TallyState;
    expect(fromBase64(tally.root)).toEqual(log.ctx.rootAt(tally.size));
  });

  it('ballotStatus: unknown trackers are undefined, malformed ones throw, case does not matter', () => {
    expect(ballotStatus(log.state.read, '00'.repeat(32))).toBeUndefined();
    expect(() => ballotStatus(log.state.read, 'xyz')).toThrow(MalformedError);
    expect(ballotStatus(log.state.read, trackers.second.toUpperCase())?.tracker).toBe(trackers.second);
  });

  it('counts exactly at the electorate are accepted', () => {
    const l = logAt(f, 'close');
    l.accept(
      f.report(
        'north-1',
        'riksdag',
        'preliminary',
        { s: 100, m: 50, sd: 25, c: 20 },
        { blank: 3, invalid: 2 },
      ),
    );
  });

  it('a reporter may report for any polling district in its subtree, the national one for all', () => {
    const l = logAt(f, 'close');
    l.accept(
      f.report('north-2', 'referendum', 'preliminary', undefined, { by: f.reporters.north }),
      f.report('south-2', 'referendum', 'preliminary', undefined, { by: f.reporters.south }),
      f.report('north-1', 'referendum', 'final', undefined, { by: f.reporters.national }),
      f.report('south-1', 'referendum', 'final', undefined, { by: f.reporters.national }),
    );
  });

  it('stateKeys lists no key twice and the rules read no other (RecordLog checks every read)', () => {
    for (const bytes of log.records) {
      const keys = stateKeys(decodeRecord(bytes));
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('applyRecord does not mutate what it reads', () => {
    const state = new MemoryState({ freeze: false });
    log.records.forEach((bytes, index) => {
      const decoded = decodeRecord(bytes);
      const keys = stateKeys(decoded);
      const before = keys.map((k) => structuredClone(state.read(k)));
      const outcome = applyRecord(state.read, decoded, index, log.ctx);
      expect(keys.map((k) => state.read(k))).toEqual(before);
      if (outcome instanceof RuleError) throw outcome;
      state.apply(outcome);
    });
    expect(state.snapshot()).toBe(log.state.snapshot());
  });

  it('MemoryState freezes what it stores by default', () => {
    const e = log.state.read(stateKey.election(f.id)) as ElectionState;
    expect(Object.isFrozen(e) && Object.isFrozen(e.counts) && Object.isFrozen(e.contests[0]!.options)).toBe(
      true,
    );
  });

  it('applyRecord checks the index', () => {
    const decoded = decodeRecord(log.records[0]!);
    expect(() => applyRecord(new MemoryState().read, decoded, -1, log.ctx)).toThrow(RangeError);
    expect(() => applyRecord(new MemoryState().read, decoded, 0.5, log.ctx)).toThrow(RangeError);
  });
});

describe('the log record: what the log trusts', () => {
  const refusal = (log: RecordLog, bytes: Uint8Array) => {
    const r = log.submit(bytes);
    return 'error' in r ? r.error.code : `admitted at ${r.index}`;
  };

  it('entry 0 names the origin and the authorities', () => {
    const log = new RecordLog(f.authorities);
    expect(log.state.read(stateKey.log())).toEqual({
      origin: TEST_LOG.origin,
      authorities: f.authorities,
      records: [0],
      open: 0,
    });
  });

  it('a later log record adds an authority, and another retires it', () => {
    const log = new RecordLog(f.authorities);
    expect(refusal(log, fNone.election())).toBe('wrong_role');
    const [added] = log.accept(logRecord([...f.authorities, fNone.authority.key], { sequence: 1 }));
    log.accept(fNone.election());
    // Back to the set of entry 0: a new record (its sequence differs), not a duplicate of entry 0.
    const [retired] = log.accept(logRecord(f.authorities, { sequence: 2 }));
    expect(log.state.read(stateKey.log())).toMatchObject({
      authorities: f.authorities,
      records: [0, added, retired],
    });
    // A retired authority defines no new election; the one it defined stays.
    const another = buildElection({ id: 'se-none-2', label: 'se-none' });
    expect(another.authority.key).toBe(fNone.authority.key);
    expect(refusal(log, another.election())).toBe('wrong_role');
    expect(log.state.read(stateKey.election(fNone.id))).toBeDefined();
  });

  it('is refused while an election is open, and admitted again once it closed', () => {
    const log = logAt(f, 'open');
    const change = logRecord([...f.authorities, fNone.authority.key], { sequence: 1 });
    expect(refusal(log, change)).toBe('election_open');
    expect(log.state.read(stateKey.log())).toMatchObject({ open: 1 });
    log.accept(f.phase('close'));
    expect(log.state.read(stateKey.log())).toMatchObject({ open: 0 });
    log.accept(change);
  });
});

describe('determinism', () => {
  const { log } = electionNight();

  it('replaying the same records twice gives byte-identical snapshots', () => {
    const a = replay(log.records, log.ctx);
    const b = replay(log.records, log.ctx);
    expect(a.state.snapshot()).toBe(b.state.snapshot());
    expect(a.results).toEqual(b.results);
  });

  it('admitting records one by one equals replaying them', () => {
    const { state, results } = replay(log.records, log.ctx);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(results.map((r) => r.index)).toEqual(log.records.map((_, i) => i));
    expect(state.snapshot()).toBe(log.state.snapshot());
  });

  it('replay in two parts equals replay in one', () => {
    const half = Math.floor(log.records.length / 2);
    const first = replay(log.records.slice(0, half), log.ctx);
    const second = replay(log.records.slice(half), log.ctx, { state: first.state, start: half });
    expect(second.state.snapshot()).toBe(log.state.snapshot());
    expect(second.results[0]!.index).toBe(half);
  });

  it('replay reports rejected entries and skips their effects', () => {
    const garbage = utf8('not a record');
    const late = f.ballot(north); // the election is final
    const { state, results } = replay([...log.records, garbage, late], log.ctx);
    expect(results.at(-2)!.error?.code).toBe('malformed');
    expect(results.at(-1)!.error).toBeInstanceOf(RuleError);
    expect(results.at(-1)!.error?.code).toBe('wrong_phase');
    expect(state.snapshot()).toBe(log.state.snapshot());
  });

  it('snapshots do not depend on the order of writes', () => {
    const a = new MemoryState();
    const b = new MemoryState();
    a.apply([
      ['x', 1],
      ['y', { b: 1, a: [2] }],
    ]);
    b.apply([
      ['y', { a: [2], b: 1 }],
      ['x', 1],
    ]);
    expect(a.snapshot()).toBe(b.snapshot());
  });
});

describe('model-based: random election nights', () => {
  // Actions on a 4-voter election: 0..3 vote, 4..7 override voter i, 8 next phase.
  const fx = buildElection({ id: 'model', voters: 4 });
  const action = fc.integer({ min: 0, max: 8 });

  it('admission agrees with a simple model, and replay reproduces the state', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 24 }), (actions) => {
        const log = logAt(fx, 'setup');
        const phases = ['setup', 'open', 'close', 'final'] as const;
        let phase = 0;
        const ballots: { tracker: string; voter: number }[] = [];
        const overridden = new Set<number>();
        for (const a of actions) {
          if (a < 4) {
            const bytes = fx.ballot(fx.voters[a]!);
            const ok = phases[phase] === 'open' && !overridden.has(a);
            const result = log.submit(bytes);
            expect('index' in result).toBe(ok);
            if (ok) ballots.push({ tracker: ballotTracker(bytes), voter: a });
          } else if (a < 8) {
            const v = a - 4;
            const ok = (phases[phase] === 'open' || phases[phase] === 'close') && !overridden.has(v);
            expect('index' in log.submit(fx.override(fx.voters[v]!, fx.reporters.national))).toBe(ok);
            if (ok) overridden.add(v);
          } else if (phase < 3) {
            log.accept(fx.phase(phases[++phase] as 'open' | 'close' | 'final'));
          }
        }
        const voted = new Set(ballots.map((b) => b.voter));
        const counts = electionSummary(log.state.read, fx.id)!.counts;
        expect(counts.ballots).toBe(ballots.length);
        expect(counts.voters).toBe(voted.size);
        expect(counts.counted).toBe([...voted].filter((v) => !overridden.has(v)).length);
        expect(counts.overrides).toBe(overridden.size);
        ballots.forEach((b, i) => {
          const last = ballots.findLastIndex((x) => x.voter === b.voter) === i;
          const expected = overridden.has(b.voter) ? 'overridden' : last ? 'included' : 'superseded';
          expect(ballotStatus(log.state.read, b.tracker)?.status).toBe(expected);
        });
        expect(replay(log.records, log.ctx).state.snapshot()).toBe(log.state.snapshot());
      }),
      { numRuns: 25 },
    );
  });
});
