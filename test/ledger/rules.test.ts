// The election rules: a table of every rejection (decode-time and rule-time)
// with its code and status, each leaving the state and the log unchanged;
// happy-path scenarios (re-voting, overrides, report corrections, tallies);
// and determinism (replay twice, one-by-one admission equals replay, a
// model-based property over random election nights).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../ledger/bytes.js';
import { MalformedError, UrnaError } from '../../ledger/errors.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { ballotTracker, decodeRecord, LIMITS } from '../../ledger/record.js';
import {
  applyRecord,
  ballotStatus,
  electionSummary,
  MAX_ELECTION_DISTRICTS,
  MemoryState,
  replay,
  RULE_ERROR_STATUS,
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
  RecordLog,
  signUnchecked,
  testKey,
  type ElectionFixture,
  type Voter,
} from '../helpers/election.js';

const f = buildElection();
const fNone = buildElection({ id: 'se-none', revoting: 'none' });
const north = f.voters[0]!; // north-1
const south = f.voters[2]!; // south-1
const newVoter: Voter = { ...testKey('new voter'), district: 'north-2' };
const RIKSDAG = { s: 40, m: 30, sd: 20, c: 10 };

/** The HTTP status of a rejection: its own, or by code for the core's plain errors. */
function statusOf(e: UrnaError): number {
  const own = (e as { status?: number }).status;
  return own ?? ({ bad_signature: 403, malformed: 400 } as { [code: string]: number })[e.code]!;
}

function flipSignatureBit(bytes: Uint8Array): Uint8Array {
  const o = JSON.parse(fromUtf8(bytes)) as { sig: string };
  const sig = fromBase64(o.sig);
  sig[0]! ^= 1;
  return canonicalBytes({ ...o, sig: toBase64(sig) });
}

/** Re-signs `bytes` (by `seed`) with its body edited, skipping every check. */
function editBody(
  bytes: Uint8Array,
  seed: Uint8Array,
  edit: (body: { [k: string]: unknown }) => void,
): Uint8Array {
  const o = JSON.parse(fromUtf8(bytes)) as { [k: string]: unknown };
  delete o.sig;
  delete o.signer;
  edit(o.body as { [k: string]: unknown });
  return signUnchecked(o, seed);
}

function fresh(fx: ElectionFixture = f): RecordLog {
  return new RecordLog(fx.authorities);
}

type Row = {
  name: string;
  setup: () => RecordLog;
  record: (log: RecordLog) => Uint8Array;
  code: string;
  status: number;
};

const rows: Row[] = [
  // Signatures and encoding (decodeRecord).
  {
    name: 'bad signature (a flipped bit)',
    setup: () => logAt(f, 'open'),
    record: () => flipSignatureBit(f.ballot(north)),
    code: 'bad_signature',
    status: 403,
  },
  {
    name: 'signature with a wrong domain-separation prefix',
    setup: () => logAt(f, 'open'),
    record: () =>
      signUnchecked(
        { v: 1, type: 'phase', election: f.id, body: { phase: 'close' } },
        f.authority.seed,
        'urna/v1\n',
      ),
    code: 'bad_signature',
    status: 403,
  },
  {
    name: 'non-canonical JSON (an extra space)',
    setup: () => logAt(f, 'open'),
    record: () => utf8(fromUtf8(f.ballot(north)).replace('"body":', '"body": ')),
    code: 'non_canonical',
    status: 400,
  },
  {
    name: 'non-canonical JSON (reordered keys)',
    setup: () => logAt(f, 'open'),
    record: () => {
      const { v, type, election, body, signer, sig } = JSON.parse(fromUtf8(f.ballot(north))) as {
        [k: string]: unknown;
      };
      return utf8(JSON.stringify({ v, type, election, body, signer, sig }));
    },
    code: 'non_canonical',
    status: 400,
  },
  {
    name: 'malformed JSON',
    setup: () => logAt(f, 'open'),
    record: () => utf8('{"v":1,'),
    code: 'malformed',
    status: 400,
  },
  {
    name: 'unknown field',
    setup: () => logAt(f, 'open'),
    record: () => editBody(f.ballot(north), north.seed, (b) => (b.district = 'north-1')),
    code: 'unknown_field',
    status: 400,
  },
  {
    name: 'oversize ciphertext',
    setup: () => logAt(f, 'open'),
    record: () =>
      editBody(f.ballot(north), north.seed, (b) => {
        b.ciphertext = toBase64(new Uint8Array(LIMITS.ciphertext + 1));
      }),
    code: 'too_large',
    status: 413,
  },
  {
    name: 'negative count',
    setup: () => logAt(f, 'close'),
    record: () =>
      editBody(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG), f.reporters.national.seed, (b) => {
        (b.counts as { s: number }).s = -1;
      }),
    code: 'bad_value',
    status: 400,
  },
  {
    name: 'fractional count',
    setup: () => logAt(f, 'close'),
    record: () =>
      editBody(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG), f.reporters.national.seed, (b) => {
        b.invalid = 0.5;
      }),
    code: 'bad_value',
    status: 400,
  },
  // Roles.
  {
    name: 'election signed by a key the log does not trust',
    setup: () => fresh(),
    record: () => f.election({}, f.outsider),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'credentials signed by a non-registrar',
    setup: () => logAt(f),
    record: () => f.credentials([newVoter], f.authority),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'phase signed by a non-authority',
    setup: () => logAt(f),
    record: () => f.phase('open', f.registrar),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'phase signed by another trusted authority',
    setup: () => {
      const log = new RecordLog([f.authority.key, fNone.authority.key]);
      log.accept(f.election());
      return log;
    },
    record: () => f.phase('open', fNone.authority),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'districts signed by a non-authority',
    setup: () => logAt(f),
    record: () => f.districts([{ id: 'north-3', parent: 'north' }], f.registrar),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'tally signed by a non-counter',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log.size, log.ctx.rootAt(log.size), undefined, f.registrar),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'report signed by a non-reporter',
    setup: () => logAt(f, 'close'),
    record: () => f.report('north-1', 'riksdag', 'preliminary', RIKSDAG, { by: f.counter }),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'override signed by a non-reporter',
    setup: () => logAt(f, 'open'),
    record: () => f.override(north, f.registrar),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'report by a reporter outside its subtree',
    setup: () => logAt(f, 'close'),
    record: () => f.report('south-1', 'riksdag', 'preliminary', RIKSDAG, { by: f.reporters.north }),
    code: 'outside_subtree',
    status: 403,
  },
  {
    name: 'report for the parent of the reporter subtree',
    setup: () => logAt(f, 'close'),
    record: () => f.report('se', 'riksdag', 'preliminary', RIKSDAG, { by: f.reporters.north }),
    code: 'outside_subtree',
    status: 403,
  },
  {
    name: 'override by a reporter outside its subtree',
    setup: () => logAt(f, 'open'),
    record: () => f.override(south, f.reporters.north),
    code: 'outside_subtree',
    status: 403,
  },
  // Unknown election or credential.
  {
    name: 'ballot for an unknown election',
    setup: () => logAt(f, 'open'),
    record: () => f.ballot(north, { election: 'no-such-election' }),
    code: 'unknown_election',
    status: 404,
  },
  {
    name: 'ballot by an unknown credential',
    setup: () => logAt(f, 'open'),
    record: () => f.ballot(f.outsider),
    code: 'unknown_credential',
    status: 404,
  },
  {
    name: 'ballot by a credential of another election',
    setup: () => {
      const log = new RecordLog([f.authority.key, fNone.authority.key]);
      log.accept(f.election(), f.credentials(), f.phase('open'), fNone.election(), fNone.credentials());
      return log;
    },
    record: () => f.ballot(fNone.voters[0]!),
    code: 'unknown_credential',
    status: 404,
  },
  {
    name: 'override of an unknown credential',
    setup: () => logAt(f, 'open'),
    record: () => f.override({ ...f.outsider, district: 'north-1' }),
    code: 'unknown_credential',
    status: 404,
  },
  // Conflicts with the state.
  {
    name: 'duplicate election id',
    setup: () => logAt(f),
    record: () => f.election({ title: 'Another election, same id' }),
    code: 'election_exists',
    status: 409,
  },
  {
    name: 'duplicate credential (already issued)',
    setup: () => logAt(f),
    record: () => f.credentials([newVoter, north]),
    code: 'duplicate_credential',
    status: 409,
  },
  {
    name: 'duplicate credential (twice in one record)',
    setup: () => logAt(f),
    record: () => f.credentials([newVoter, newVoter]),
    code: 'duplicate_credential',
    status: 409,
  },
  {
    name: 'credentials after voting closed',
    setup: () => logAt(f, 'close'),
    record: () => f.credentials([newVoter]),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'ballot before open',
    setup: () => logAt(f, 'setup'),
    record: () => f.ballot(north),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'ballot after close',
    setup: () => logAt(f, 'close'),
    record: () => f.ballot(north),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'ballot after final',
    setup: () => logAt(f, 'final'),
    record: () => f.ballot(north),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'the same ballot twice',
    setup: () => logAt(f, 'open'),
    record: (log) => {
      const ballot = f.ballot(north);
      log.accept(ballot);
      return ballot;
    },
    code: 'duplicate_record',
    status: 409,
  },
  {
    name: 'revoting none: a second ballot',
    setup: () => {
      const log = logAt(fNone, 'open');
      log.accept(fNone.ballot(fNone.voters[0]!));
      return log;
    },
    record: () => fNone.ballot(fNone.voters[0]!),
    code: 'already_voted',
    status: 409,
  },
  {
    name: 'ballot after the credential was overridden',
    setup: () => {
      const log = logAt(f, 'open');
      log.accept(f.ballot(north), f.override(north));
      return log;
    },
    record: () => f.ballot(north),
    code: 'overridden',
    status: 409,
  },
  {
    name: 'override twice',
    setup: () => {
      const log = logAt(f, 'open');
      log.accept(f.override(north));
      return log;
    },
    record: () => f.override(north, f.reporters.national),
    code: 'overridden',
    status: 409,
  },
  {
    name: 'override during setup',
    setup: () => logAt(f, 'setup'),
    record: () => f.override(north),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'override after final',
    setup: () => logAt(f, 'final'),
    record: () => f.override(north),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'illegal phase transition (setup to close)',
    setup: () => logAt(f, 'setup'),
    record: () => f.phase('close'),
    code: 'illegal_transition',
    status: 409,
  },
  {
    name: 'illegal phase transition (open again)',
    setup: () => logAt(f, 'open'),
    record: () => f.phase('open'),
    code: 'illegal_transition',
    status: 409,
  },
  {
    name: 'illegal phase transition (after final)',
    setup: () => logAt(f, 'final'),
    record: () => f.phase('final'),
    code: 'illegal_transition',
    status: 409,
  },
  {
    name: 'report while voting is open',
    setup: () => logAt(f, 'open'),
    record: () => f.report('north-1', 'riksdag', 'preliminary', RIKSDAG),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'report after final',
    setup: () => logAt(f, 'final'),
    record: () => f.report('north-1', 'riksdag', 'final', RIKSDAG),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'preliminary report after the final one',
    setup: () => {
      const log = logAt(f, 'close');
      log.accept(f.report('north-1', 'riksdag', 'final', RIKSDAG));
      return log;
    },
    record: () => f.report('north-1', 'riksdag', 'preliminary', { ...RIKSDAG, c: 11 }),
    code: 'wrong_stage',
    status: 409,
  },
  {
    name: 'tally before close',
    setup: () => logAt(f, 'open'),
    record: (log) => f.tally(log.size, log.ctx.rootAt(log.size)),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'stale tally root',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log.size, log.ctx.rootAt(log.size - 1)),
    code: 'stale_tally_root',
    status: 409,
  },
  {
    name: 'tally smaller than the previous tally',
    setup: () => {
      const log = logAt(f, 'close');
      log.accept(f.tally(log.size, log.ctx.rootAt(log.size)));
      return log;
    },
    record: (log) => f.tally(log.size - 2, log.ctx.rootAt(log.size - 2)),
    code: 'stale_tally',
    status: 409,
  },
  {
    name: 'districts after setup',
    setup: () => logAt(f, 'open'),
    record: () => f.districts([{ id: 'north-3', parent: 'north' }]),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'districts with an existing id',
    setup: () => logAt(f),
    record: () => f.districts([{ id: 'north-2', parent: 'south' }]),
    code: 'district_exists',
    status: 409,
  },
  // Other rule violations.
  {
    name: 'credential in an unknown district',
    setup: () => logAt(f),
    record: () => f.credentials([{ ...newVoter, district: 'east-1' }]),
    code: 'unknown_district',
    status: 422,
  },
  {
    name: 'districts under an unknown parent',
    setup: () => logAt(f),
    record: () => f.districts([{ id: 'east-1', parent: 'east' }]),
    code: 'unknown_district',
    status: 422,
  },
  {
    name: 'districts forming a cycle',
    setup: () => logAt(f),
    record: () =>
      f.districts([
        { id: 'x', parent: 'y' },
        { id: 'y', parent: 'x' },
      ]),
    code: 'bad_tree',
    status: 422,
  },
  {
    name: 'districts deeper than the depth limit',
    setup: () => logAt(f),
    record: () =>
      f.districts(
        Array.from({ length: LIMITS.districtDepth - 2 }, (_, i) => ({
          id: `deep-${i}`,
          parent: i === 0 ? 'north-1' : `deep-${i - 1}`,
        })),
      ),
    code: 'bad_tree',
    status: 422,
  },
  {
    name: 'districts beyond the election limit',
    setup: () => {
      const log = logAt(f);
      const key = stateKey.election(f.id);
      const e = log.state.read(key) as ElectionState;
      log.state.apply([[key, { ...e, counts: { ...e.counts, districts: MAX_ELECTION_DISTRICTS } }]]);
      return log;
    },
    record: () => f.districts([{ id: 'north-3', parent: 'north' }]),
    code: 'too_many_districts',
    status: 422,
  },
  {
    name: 'ballot for an unknown contest',
    setup: () => logAt(f, 'open'),
    record: () => f.ballot(north, { contests: ['riksdag', 'senate'] }),
    code: 'unknown_contest',
    status: 422,
  },
  {
    name: 'report for an unknown contest',
    setup: () => logAt(f, 'close'),
    record: () => f.report('north-1', 'senate', 'preliminary', RIKSDAG),
    code: 'unknown_contest',
    status: 422,
  },
  {
    name: 'report with an unknown option',
    setup: () => logAt(f, 'close'),
    record: () => f.report('north-1', 'riksdag', 'preliminary', { ...RIKSDAG, v: 1 }),
    code: 'unknown_option',
    status: 422,
  },
  {
    name: 'report missing an option',
    setup: () => logAt(f, 'close'),
    record: () => f.report('north-1', 'riksdag', 'preliminary', { s: 1, m: 1, sd: 1 }),
    code: 'missing_option',
    status: 422,
  },
  {
    name: 'report for an unknown district',
    setup: () => logAt(f, 'close'),
    record: () => f.report('east-1', 'riksdag', 'preliminary', RIKSDAG),
    code: 'unknown_district',
    status: 422,
  },
  {
    name: 'counts above the electorate',
    setup: () => logAt(f, 'close'),
    // north-1 has 200 voters: 100 + 100 + 1 blank is one too many.
    record: () =>
      f.report('north-1', 'riksdag', 'preliminary', { s: 100, m: 100, sd: 0, c: 0 }, { blank: 1 }),
    code: 'over_electorate',
    status: 422,
  },
  {
    name: 'counts above the electorate by huge numbers',
    setup: () => logAt(f, 'close'),
    record: () =>
      f.report('north-1', 'riksdag', 'preliminary', {
        s: Number.MAX_SAFE_INTEGER,
        m: Number.MAX_SAFE_INTEGER,
        sd: 0,
        c: 0,
      }),
    code: 'over_electorate',
    status: 422,
  },
  {
    name: 'override naming the wrong district',
    setup: () => logAt(f, 'open'),
    record: () => f.override(north, f.reporters.north, 'north-2'),
    code: 'district_mismatch',
    status: 422,
  },
  {
    name: 'tally size beyond the log',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log.size + 1, log.ctx.rootAt(log.size)),
    code: 'bad_tally_size',
    status: 422,
  },
  {
    name: 'tally with an unknown contest',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log.size, log.ctx.rootAt(log.size), { senate: { a: 1 } }),
    code: 'unknown_contest',
    status: 422,
  },
  {
    name: 'tally with an unknown option',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log.size, log.ctx.rootAt(log.size), { referendum: { maybe: 1 } }),
    code: 'unknown_option',
    status: 422,
  },
];

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
    for (const code of Object.keys(RULE_ERROR_STATUS)) expect(covered, code).toContain(code);
  });

  it('rejections by the rules carry the status of RULE_ERROR_STATUS', () => {
    for (const [code, status] of Object.entries(RULE_ERROR_STATUS)) {
      const e = new RuleError(code as keyof typeof RULE_ERROR_STATUS, 'm');
      expect(e.status).toBe(status);
      expect(e).toBeInstanceOf(UrnaError);
      expect([403, 404, 409, 422]).toContain(status);
    }
  });
});

/** A whole small election night; returns the log and the indexes of interest. */
function electionNight() {
  const log = new RecordLog(f.authorities);
  const extra: Voter = { ...testKey('north-3 voter'), district: 'north-3' };
  log.accept(
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
  const [iTally] = log.accept(
    f.tally(size, log.ctx.rootAt(size), { riksdag: RIKSDAG, referendum: { yes: 1, no: 2 } }),
  );
  return {
    log,
    trackers: {
      first: ballotTracker(first),
      second: ballotTracker(second),
      south: ballotTracker(southBallot),
      extra: ballotTracker(extraBallot),
    },
    at: { iFirst, iSecond, iSouth, iExtra, iOverride, iPrelim, iCorrection, iFinal, iTally, size },
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
    });
    expect(summary.authority).toBe(f.authority.key);
    expect(summary.districtRecords).toEqual([1]);
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
      index: 1,
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

  it('a reporter may report for any district in its subtree, the national one for all', () => {
    const l = logAt(f, 'close');
    l.accept(
      f.report('north', 'referendum', 'preliminary', undefined, { by: f.reporters.north }),
      f.report('south-2', 'referendum', 'preliminary', undefined, { by: f.reporters.south }),
      f.report('se', 'referendum', 'final', undefined, { by: f.reporters.national }),
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
