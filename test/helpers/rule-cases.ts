// The table of every rejection of the election rules (decode-time and
// rule-time) with its code and HTTP status, shared by the ledger's rules test
// (test/ledger/rules.test.ts) and the HTTP test of the sequencer's admission
// (test/services/election-api.test.ts): one table, checked at both layers.
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../ledger/bytes.js';
import type { UrnaError } from '../../ledger/errors.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { decryptionBody } from '../../ledger/encrypted-election.js';
import { LIMITS, type DecryptionBody } from '../../ledger/record.js';
import {
  MAX_ELECTION_DISTRICTS,
  stateKey,
  type ElectionState,
  type EncryptedSumState,
} from '../../ledger/rules.js';
import { statusFor } from '../../services/api/errors.js';
import {
  buildElection,
  logAt,
  logRecord,
  RecordLog,
  signUnchecked,
  testKey,
  type ElectionFixture,
  type Voter,
} from './election.js';
import { DEFAULT_CHOICES, keyCeremony } from './encrypted-election.js';
import { decodeElement, encodeElement, G, type Element } from '../../ledger/group.js';

export const f = buildElection();
export const fNone = buildElection({ id: 'se-none', revoting: 'none' });
export const north = f.voters[0]!; // north-1
export const south = f.voters[2]!; // south-1
export const newVoter: Voter = { ...testKey('new voter'), district: 'north-2' };
export const RIKSDAG = { s: 40, m: 30, sd: 20, c: 10 };
/** An encrypted election: three guardians, two of whom decrypt. */
export const fEnc = buildElection({ id: 'se-enc', guardians: { count: 3, quorum: 2 } });
export const ceremony = keyCeremony(fEnc);
export const encNorth = fEnc.voters[0]!; // north-1
export const encSouth = fEnc.voters[2]!; // south-1

/** `fEnc`'s log in setup with the ceremony's first `steps` records (guardian 1, 2, 3, shares 1, 2, 3, accept 1, 2, 3). */
export function ceremonyAt(steps: number): RecordLog {
  const log = logAt(fEnc);
  log.accept(...ceremony.records().slice(0, steps));
  return log;
}

/** Re-signs `bytes` (by `seed`) with its envelope edited, skipping every check. */
export function editEnvelope(
  bytes: Uint8Array,
  seed: Uint8Array,
  edit: (envelope: { [k: string]: unknown }) => void,
): Uint8Array {
  const o = JSON.parse(fromUtf8(bytes)) as { [k: string]: unknown };
  delete o.sig;
  delete o.signer;
  edit(o);
  return signUnchecked(o, seed);
}

type EncryptedOption = { option: string; alpha: string; beta: string; proof: unknown };
type EncryptedBody = { encrypted: Array<{ options: EncryptedOption[] }> };

/** An encrypted ballot of `voter` with `edit` applied to the riksdag contest's options, re-signed. */
function editedBallot(
  voter: Voter,
  edit: (options: EncryptedOption[]) => void,
  choices = DEFAULT_CHOICES,
): Uint8Array {
  return editBody(ceremony.ballot(voter, choices), voter.seed, (b) =>
    edit((b as unknown as EncryptedBody).encrypted[0]!.options),
  );
}

function optionOf(voter: Voter, choices: typeof DEFAULT_CHOICES, option: string): EncryptedOption {
  const b = ceremony.ballotBody(voter, choices).body as unknown as EncryptedBody;
  return b.encrypted[0]!.options.find((o) => o.option === option)!;
}

/** A Benaloh challenge of encNorth: its ballot and the `spoiled` record opening it. */
const spoiledNorth = ceremony.spoil(encNorth);

/** `fEnc`'s log after voting closed, with e-ballots in north-1 and south-1 (north-2 and south-2 have none). */
export function encClosed(): RecordLog {
  const log = logAt(fEnc, 'open');
  log.accept(ceremony.ballot(encNorth), ceremony.ballot(encSouth), fEnc.phase('close'));
  return log;
}

/** north-1's encrypted sums in `log`. */
function northSums(log: RecordLog): EncryptedSumState {
  return log.state.read(stateKey.encryptedSum(fEnc.id, 'north-1')) as EncryptedSumState;
}

/** Guardian `i`'s decryption of north-1's sums in `log`, with `edit` applied to its body, re-signed. */
function editedDecryption(log: RecordLog, i: number, edit: (body: DecryptionBody) => void): Uint8Array {
  return editBody(ceremony.decryption(i, 'north-1', northSums(log)), fEnc.guardianKeys[i - 1]!.seed, (b) =>
    edit(b as unknown as DecryptionBody),
  );
}

const element = (e: Element) => toBase64(encodeElement(e));
const g1 = () => fEnc.guardianKeys[0]!.seed;

/** The HTTP status the API answers a rejection with (services/api/errors.ts). */
export function statusOf(e: UrnaError): number {
  return statusFor(e);
}

export function flipSignatureBit(bytes: Uint8Array): Uint8Array {
  const o = JSON.parse(fromUtf8(bytes)) as { sig: string };
  const sig = fromBase64(o.sig);
  sig[0]! ^= 1;
  return canonicalBytes({ ...o, sig: toBase64(sig) });
}

/** Re-signs `bytes` (by `seed`) with its body edited, skipping every check. */
export function editBody(
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

export function fresh(fx: ElectionFixture = f): RecordLog {
  return new RecordLog(fx.authorities);
}

export type Row = {
  name: string;
  setup: () => RecordLog;
  record: (log: RecordLog) => Uint8Array;
  code: string;
  status: number;
  /** The setup edits the state directly, so only the ledger-level test can run it. */
  stateShortcut?: boolean;
};

export const rows: Row[] = [
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
  // The log record (what the log trusts).
  {
    name: 'log record signed by a key other than the log key',
    setup: () => fresh(),
    record: () => logRecord([...f.authorities, f.outsider.key], { sequence: 1, by: f.outsider }),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'log record naming another log',
    setup: () => fresh(),
    record: () => logRecord(f.authorities, { sequence: 1, origin: 'other.example/log' }),
    code: 'wrong_log',
    status: 422,
  },
  {
    name: 'election before the log record',
    setup: () => new RecordLog(f.authorities, { genesis: false }),
    record: () => f.election(),
    code: 'log_not_configured',
    status: 409,
  },
  {
    name: 'log record while an election is open',
    setup: () => logAt(f, 'open'),
    record: () => logRecord([...f.authorities, fNone.authority.key], { sequence: 1 }),
    code: 'election_open',
    status: 409,
  },
  {
    name: 'log record with a sequence already taken (signed for an earlier state)',
    setup: () => fresh(),
    record: () => logRecord([...f.authorities, fNone.authority.key], { sequence: 0 }),
    code: 'stale_log_record',
    status: 409,
  },
  {
    name: 'log record with a sequence ahead of the log',
    setup: () => fresh(),
    record: () => logRecord([...f.authorities, fNone.authority.key], { sequence: 2 }),
    code: 'stale_log_record',
    status: 409,
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
    record: (log) => f.tally(log, { by: f.registrar }),
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
    record: (log) => f.tally(log),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'stale tally root',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log, { root: log.ctx.rootAt(log.size - 1) }),
    code: 'stale_tally_root',
    status: 409,
  },
  {
    name: 'tally smaller than the previous tally',
    setup: () => {
      const log = logAt(f, 'close');
      log.accept(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG));
      log.accept(f.tally(log));
      return log;
    },
    record: (log) => f.tally(log, { size: log.size - 2 }),
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
    // A million districts cannot be submitted in a test: the setup edits the state.
    stateShortcut: true,
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
    record: (log) => f.tally(log, { edit: (b) => (b.size = log.size + 1) }),
    code: 'bad_tally_size',
    status: 422,
  },
  {
    name: 'tally not reaching the record that closed voting',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log, { size: log.size - 1 }),
    code: 'bad_tally_size',
    status: 422,
  },
  {
    name: 'tally outdated by a later report',
    setup: () => logAt(f, 'close'),
    record: (log) => {
      const tally = f.tally(log);
      log.accept(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG));
      return tally;
    },
    code: 'outdated_tally',
    status: 409,
  },
  {
    name: 'tally with counts the log does not give',
    setup: () => {
      const log = logAt(f, 'close');
      log.accept(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG));
      return log;
    },
    record: (log) => f.tally(log, { edit: (b) => (b.contests.riksdag!.counted.votes.s! += 1) }),
    code: 'wrong_tally',
    status: 422,
  },
  {
    name: 'tally with seats the counts do not give',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log, { edit: (b) => (b.contests.referendum!.seats.unallocated += 1) }),
    code: 'wrong_tally',
    status: 422,
  },
  {
    name: 'tally without a contest',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log, { edit: (b) => delete b.contests.referendum }),
    code: 'wrong_tally',
    status: 422,
  },
  {
    name: 'tally with another lot seed',
    setup: () => {
      const log = logAt(f, 'close');
      log.accept(f.report('north-1', 'riksdag', 'preliminary', RIKSDAG));
      return log;
    },
    record: (log) =>
      f.tally(log, {
        edit: (b) => (b.seed = { size: b.seed.size + 1, root: toBase64(log.ctx.rootAt(b.seed.size + 1)) }),
      }),
    code: 'wrong_tally',
    status: 422,
  },
  {
    name: 'report for a district with sub-districts',
    setup: () => logAt(f, 'close'),
    record: () => f.report('north', 'riksdag', 'preliminary', RIKSDAG),
    code: 'not_polling_district',
    status: 422,
  },
  {
    name: 'tally with an unknown contest',
    setup: () => logAt(f, 'close'),
    record: (log) => f.tally(log, { edit: (b) => (b.contests.senate = b.contests.referendum!) }),
    code: 'unknown_contest',
    status: 422,
  },
  // The key ceremony of an encrypted election.
  {
    name: 'guardian record in an election without guardians',
    setup: () => logAt(f),
    record: () => editEnvelope(ceremony.guardian(1), g1(), (o) => (o.election = f.id)),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: "guardian record signed by another guardian's key",
    setup: () => logAt(fEnc),
    record: () => ceremony.guardian(1, fEnc.guardianKeys[1]!),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'a second guardian record of a guardian',
    setup: () => ceremonyAt(1),
    record: () => ceremony.guardian(1),
    code: 'already_published',
    status: 409,
  },
  {
    name: 'guardian record with fewer commitments than the quorum',
    setup: () => logAt(fEnc),
    record: () => editBody(ceremony.guardian(1), g1(), (b) => (b.commitments as unknown[]).pop()),
    code: 'wrong_quorum',
    status: 422,
  },
  {
    name: 'guardian record whose proof of knowledge does not verify',
    setup: () => logAt(fEnc),
    record: () =>
      editBody(ceremony.guardian(1), g1(), (b) => {
        const c = b.commitments as Array<{ response: string }>;
        c[0]!.response = c[1]!.response;
      }),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'guardian record after voting opened',
    setup: () => logAt(fEnc, 'open'),
    record: () => ceremony.guardian(1),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'shares before every guardian published its commitments',
    setup: () => ceremonyAt(2),
    record: () => ceremony.shares(1),
    code: 'ceremony_incomplete',
    status: 409,
  },
  {
    name: 'shares missing a guardian',
    setup: () => ceremonyAt(3),
    record: () => editBody(ceremony.shares(1), g1(), (b) => (b.shares as unknown[]).pop()),
    code: 'wrong_shares',
    status: 422,
  },
  {
    name: 'accept before every guardian sent its shares',
    setup: () => ceremonyAt(5),
    record: () => ceremony.accept(1),
    code: 'ceremony_incomplete',
    status: 409,
  },
  {
    name: 'accept of another election key',
    setup: () => ceremonyAt(6),
    record: () => ceremony.accept(1, element(G)),
    code: 'wrong_key',
    status: 422,
  },
  {
    name: 'open before every guardian accepted the key',
    setup: () => ceremonyAt(8),
    record: () => fEnc.phase('open'),
    code: 'ceremony_incomplete',
    status: 409,
  },
  // Encrypted ballots.
  {
    name: 'opaque ballot in an encrypted election',
    setup: () => logAt(fEnc, 'open'),
    record: () => fEnc.ballot(encNorth),
    code: 'wrong_ballot_form',
    status: 422,
  },
  {
    name: 'encrypted ballot in an election without guardians',
    setup: () => logAt(f, 'open'),
    record: () => editEnvelope(ceremony.ballot(north), north.seed, (o) => (o.election = f.id)),
    code: 'wrong_ballot_form',
    status: 422,
  },
  {
    name: "encrypted ballot naming another district than the credential's",
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      ceremony.ballot(
        encNorth,
        DEFAULT_CHOICES,
        ceremony.ballotBody(encNorth, DEFAULT_CHOICES, 'north-2').body,
      ),
    code: 'district_mismatch',
    status: 422,
  },
  {
    name: 'encrypted ballot whose option encrypts 2 (a 0/1 option)',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      editedBallot(encNorth, (options) => {
        const s = options.find((o) => o.option === 's')!;
        s.beta = element(decodeElement(fromBase64(s.beta)).add(ceremony.key));
      }),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'encrypted contest over its limit (two options of one, each proof valid)',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      editedBallot(encNorth, (options) => {
        const m = options.findIndex((o) => o.option === 'm');
        options[m] = optionOf(encNorth, { riksdag: { m: 1 } }, 'm');
      }),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'encrypted ballot copied under another credential',
    setup: () => logAt(fEnc, 'open'),
    // voters[4] is in north-1 too, so only the proofs can tell.
    record: () => ceremony.ballot(fEnc.voters[4]!, DEFAULT_CHOICES, ceremony.ballotBody(encNorth).body),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: "encrypted ballot replaying a proof from the voter's other ballot",
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      editedBallot(
        encNorth,
        (options) => {
          const s = options.find((o) => o.option === 's')!;
          s.proof = optionOf(encNorth, DEFAULT_CHOICES, 's').proof;
        },
        { riksdag: { m: 1 }, referendum: { yes: 1 } },
      ),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'encrypted ballot with a non-canonical element',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      editedBallot(encNorth, (options) => (options[0]!.alpha = toBase64(new Uint8Array(32).fill(0xff)))),
    code: 'invalid_proof',
    status: 422,
  },
  // Spoiled ballots (a Benaloh challenge).
  {
    name: 'a spoiled ballot submitted for counting',
    setup: () => {
      const log = logAt(fEnc, 'open');
      log.accept(spoiledNorth.spoiled);
      return log;
    },
    record: () => spoiledNorth.ballot,
    code: 'spoiled_ballot',
    status: 409,
  },
  {
    name: 'spoiling a ballot that was cast',
    setup: () => {
      const log = logAt(fEnc, 'open');
      log.accept(spoiledNorth.ballot);
      return log;
    },
    record: () => spoiledNorth.spoiled,
    code: 'duplicate_record',
    status: 409,
  },
  {
    name: 'spoiled ballot whose opening states other votes than it encrypts',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      ceremony.spoil(encNorth, DEFAULT_CHOICES, (b) => (b.openings[0]!.choices = { m: 1 })).spoiled,
    code: 'wrong_opening',
    status: 422,
  },
  {
    name: 'spoiled ballot whose nonces do not open its ciphertexts',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      ceremony.spoil(encNorth, DEFAULT_CHOICES, (b) => {
        const n = b.openings[1]!.nonces;
        [n[0], n[1]] = [n[1]!, n[0]!];
      }).spoiled,
    code: 'wrong_opening',
    status: 422,
  },
  {
    name: 'spoiled ballot whose proofs do not verify',
    setup: () => logAt(fEnc, 'open'),
    record: () =>
      ceremony.spoil(encNorth, DEFAULT_CHOICES, (b) => {
        const [first, second] = b.ballot.encrypted[0]!.options;
        first!.beta = second!.alpha;
      }).spoiled,
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'spoiled ballot by a voter of another district',
    setup: () => logAt(fEnc, 'open'),
    record: () => ceremony.spoil(encNorth, DEFAULT_CHOICES, (b) => (b.ballot.district = 'south-1')).spoiled,
    code: 'district_mismatch',
    status: 422,
  },
  {
    name: 'spoiled ballot after voting closed',
    setup: () => logAt(fEnc, 'close'),
    record: () => spoiledNorth.spoiled,
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'spoiled ballot in an election without guardians',
    setup: () => logAt(f, 'open'),
    record: () => editEnvelope(spoiledNorth.spoiled, north.seed, (o) => (o.election = f.id)),
    code: 'wrong_ballot_form',
    status: 422,
  },
  // Decryptions of the encrypted sums.
  {
    name: 'decryption not signed by the guardian it names',
    setup: encClosed,
    record: (log) => ceremony.decryption(1, 'north-1', northSums(log), undefined, fEnc.guardianKeys[1]!),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'decryption in an election without guardians',
    setup: () => logAt(f, 'close'),
    record: () =>
      editEnvelope(
        ceremony.decryption(1, 'north-1', northSums(encClosed())),
        g1(),
        (o) => (o.election = f.id),
      ),
    code: 'wrong_role',
    status: 403,
  },
  {
    name: 'decryption while voting is open',
    setup: () => {
      const log = logAt(fEnc, 'open');
      log.accept(ceremony.ballot(encNorth));
      return log;
    },
    record: (log) => ceremony.decryption(1, 'north-1', northSums(log)),
    code: 'wrong_phase',
    status: 409,
  },
  {
    name: 'decryption for an unknown district',
    setup: encClosed,
    record: (log) => editedDecryption(log, 1, (b) => (b.district = 'nowhere')),
    code: 'unknown_district',
    status: 422,
  },
  {
    name: 'decryption for a district without e-ballots',
    setup: encClosed,
    record: (log) => editedDecryption(log, 1, (b) => (b.district = 'north-2')),
    code: 'nothing_to_decrypt',
    status: 422,
  },
  {
    name: 'decryption of the sums as they were before a later change',
    setup: encClosed,
    record: (log) => editedDecryption(log, 1, (b) => (b.changed -= 1)),
    code: 'stale_decryption',
    status: 409,
  },
  {
    name: "a guardian's second decryption of the same sums",
    setup: () => {
      const log = encClosed();
      log.accept(ceremony.decryption(1, 'north-1', northSums(log)));
      return log;
    },
    record: (log) => {
      const sums = { ...northSums(log) };
      delete sums.decryptions;
      return ceremony.decryption(1, 'north-1', sums);
    },
    code: 'already_published',
    status: 409,
  },
  {
    name: 'decryption missing a contest of the sums',
    setup: encClosed,
    record: (log) => editedDecryption(log, 1, (b) => delete b.contests.referendum),
    code: 'wrong_decryption',
    status: 422,
  },
  {
    name: 'decryption missing an option',
    setup: encClosed,
    record: (log) => editedDecryption(log, 1, (b) => b.contests.riksdag!.pop()),
    code: 'wrong_decryption',
    status: 422,
  },
  {
    name: 'decryption by a cheating guardian (a wrong key share)',
    setup: encClosed,
    record: (log) => {
      const sums = northSums(log);
      const sealed = Object.fromEntries(Object.entries(sums.contests).map(([c, x]) => [c, x.sum]));
      const body = decryptionBody(
        2,
        ceremony.keyShare(2) + 1n,
        'north-1',
        sums.changed,
        sealed,
        ceremony.hash,
      );
      return ceremony.decryption(2, 'north-1', sums, body);
    },
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: "decryption with one option's share swapped for another's",
    setup: encClosed,
    record: (log) =>
      editedDecryption(log, 1, (b) => {
        const r = b.contests.riksdag!;
        [r[0], r[1]] = [r[1]!, r[0]!];
      }),
    code: 'invalid_proof',
    status: 422,
  },
  {
    name: 'decryption with a non-canonical share',
    setup: encClosed,
    record: (log) =>
      editedDecryption(
        log,
        1,
        (b) => (b.contests.riksdag![0]!.share = toBase64(new Uint8Array(32).fill(0xff))),
      ),
    code: 'invalid_proof',
    status: 422,
  },
];
