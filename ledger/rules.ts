/**
 * The election rules (DESIGN.md "Records"): one pure, deterministic function
 * from (state, record, index) to the state entries the record changes, or a
 * rejection with a stable code. The sequencer admits records with it, and
 * mirrors, the counter and the verifier replay the log with it.
 *
 * Designed like the Merkle core (merkle.ts): {@link stateKeys} says which
 * state entries a record's rule reads, the caller fetches them in one batch,
 * and {@link applyRecord} computes synchronously from them. State is a map
 * from string keys to JSON values ({@link StateValue}), so a service can keep
 * it in LevelDB beside each batch and a browser in a Map ({@link MemoryState}).
 *
 * State keys (ids match ID_PATTERN, so they never contain `/`; base64 keys may,
 * but only as the last component):
 *
 * | key | value | written by |
 * |---|---|---|
 * | `log` | {@link LogState}: origin, the authorities the log trusts, its log records, elections open | `log`, `phase` (open and close) |
 * | `election/<election>` | {@link ElectionState}: manifest (without districts), authority, phase, counters | every accepted record (phase, counters) |
 * | `district/<election>/<district>` | {@link DistrictState}: name, parent, electorate, path from the root | `election`, `districts` |
 * | `cred/<election>/<base64 key>` | {@link CredentialState}: district, weight, ballots cast, last ballot, override | `credentials`, `ballot`, `override` |
 * | `ballot/<tracker>` | {@link BallotState}: election, credential, index (tracker = hex leaf hash) | `ballot` |
 * | `report/<election>/<district>/<contest>/<stage>` | {@link ReportState}: current report and every index | `report` |
 * | `count/<election>/<contest>` | tally.ts ContestCountState: the contest's report sums per unit | `report` |
 * | `tally/<election>` | {@link TallyState}: the latest tally | `tally` |
 * | `ceremony/<election>` | {@link CeremonyState}: the guardians' key ceremony | `guardian`, `shares`, `accept` |
 * | `esum/<election>/<district>` | {@link EncryptedSumState}: a polling district's encrypted sums and their decryption | `ballot`, `override`, `decryption` |
 * | `evotes/<election>` | tally.ts EncryptedVotesState: the decrypted e-ballots per contest and unit | `decryption`, `override` |
 *
 * Phases: an election starts in `setup`; the authority that defined it moves
 * it `setup → open → close → final`, one step at a time, never back.
 *
 * | record | signed by | legal in phase | reads |
 * |---|---|---|---|
 * | log | the log key (ctx.logKey), naming ctx.origin | no election open | log |
 * | election | an authority of the log's `log` record | (none yet) | election, log |
 * | districts | the election's authority | setup | election, the new districts, their parents (which gain a child) |
 * | credentials | the registrar | setup, open | election, each credential, each district |
 * | phase | the election's authority | the one before | election, log |
 * | guardian, shares, accept | a guardian of the election | setup | election, ceremony |
 * | ballot | an issued credential | open | election, credential, tracker (encrypted: the district's sums) |
 * | override | a reporter over the credential's district | open, close | election, credential, district (encrypted: its sums, the decrypted votes) |
 * | spoiled | an issued credential (encrypted election) | open | election, credential, the spoiled ballot's tracker |
 * | decryption | a guardian of the election | close, final | election, ceremony, the district and its sums, the decrypted votes |
 * | report | a reporter over the district, a polling district (a leaf) | close (preliminary: only until a final report exists for the same district and contest) | election, district, both stages' reports, the contest's count |
 * | tally | the counter | close, final | election, tally, every contest's count, the decrypted votes |
 *
 * Each rule checks in the same order, and the first failure is the answer:
 * the election exists, the signer has the role, the phase allows the record,
 * its references resolve, and it does not conflict with the state.
 *
 * A `tally` is admitted only if its body is exactly what the counting
 * function (tally.ts tallyBody) gives for the log's first `size` records.
 * The rules can check that with the state they have because a tally must
 * count every record that changed the count so far (ElectionState
 * `changed`): no ballot, override, report or phase change may lie between
 * its size and itself (`outdated_tally`; the counter counts again).
 *
 * Trust is anchored in the log: the authorities that may define elections
 * are those of its latest `log` record (entry 0, and later ones while no
 * election is open), signed by the log key. A replayer needs only the log's
 * key to know what the log trusts. Keys are compared as base64 strings:
 * record keys are strict canonical base64, so equal strings are equal keys.
 */
import { checkIndex, equalBytes, fromBase64, toBase64, toHex, utf8 } from './bytes.js';
import {
  addSealed,
  decryptSum,
  encryptionContext,
  failedDecryption,
  guardianKeys,
  checkSpoiledBallot,
  sealedContests,
  shareImages,
  type ContestOpening,
  verifyBallotProofs,
  type ProofItem,
} from './encrypted-election.js';
import { decodeElement, decodeScalar, encodeElement, IDENTITY } from './group.js';
import { MalformedError, UrnaError, type SignatureError } from './errors.js';
import { leafHash, type Hash } from './hash.js';
import { canonicalize, type JsonValue } from './jcs.js';
import {
  countAfterReport,
  moveEncryptedVotes,
  tallyBody,
  unitOf,
  type ContestCountState,
  type EncryptedVotesState,
  type TallyPoint,
} from './tally.js';
import {
  decodeRecord,
  resolveDistrictPaths,
  RecordError,
  type AcceptRecord,
  type BallotRecord,
  type ContestDef,
  type CredentialsRecord,
  type DecodedRecord,
  type DistrictDef,
  type DecryptionRecord,
  type DistrictsRecord,
  type ElectionRecord,
  type GuardianRecord,
  type SharesRecord,
  type SpoiledRecord,
  type LogRecord,
  type OverrideRecord,
  type Phase,
  type PhaseRecord,
  type ReportRecord,
  type Revoting,
  type Roles,
  type Stage,
  type TallyBody,
  type TallyRecord,
} from './record.js';

/** A state entry's value: any JSON value (RFC 8785 domain). */
export type StateValue = JsonValue;

/** Reads one state entry; undefined if absent. Values must be treated as immutable. */
export type StateReader = (key: string) => StateValue | undefined;

/** The new values of the entries a record changes, in a deterministic order. Never deletions. */
export type Effects = Array<[key: string, value: StateValue]>;

/** What the rules need from the log beyond the state. */
export type RulesContext = {
  /** The log key's Ed25519 public key, base64 (the key of its checkpoints): the signer of `log` records. */
  logKey: string;
  /** The log's origin (the log key's name), which `log` records name. */
  origin: string;
  /**
   * The tree root at an earlier size (1 ≤ size ≤ the index of the record being
   * applied). Called only for `tally` records, after every cheaper check. Any
   * error it throws propagates out of {@link applyRecord}.
   */
  rootAt(size: number): Hash;
  /**
   * Verdicts on encrypted ballots' proofs computed ahead, e.g. on a worker
   * pool, with encrypted-election.ts verifyBallotProofs: true or false for
   * the ballot of `tracker` checked under this election `key` and `hash`
   * (base64), undefined if it was not computed, and the rules verify the
   * proofs themselves. Optional.
   */
  provenBallot?(tracker: string, election: { key: string; hash: string }): boolean | undefined;
  /**
   * Verdicts on decryptions computed ahead (encrypted-election.ts
   * failedDecryption returned null: true; else false): for guardian
   * `index`'s decryption of `district`'s sums as of record `changed`, under
   * the election of `hash` (base64). The sums as of a record are one value,
   * and a guardian's share image is fixed, so that names what was checked.
   * Undefined if not computed; a false verdict, the rules check again to
   * name the failing share. Optional.
   */
  provenDecryption?(decryption: {
    index: number;
    district: string;
    changed: number;
    hash: string;
  }): boolean | undefined;
};

/** The phase of an election. */
export type ElectionPhase = 'setup' | Phase;

/** Per-election counters, kept in {@link ElectionState}. */
export type ElectionCounts = {
  /** Districts defined. */
  districts: number;
  /** Credentials issued. */
  credentials: number;
  /** Ballot records accepted (re-votes included). */
  ballots: number;
  /** Credentials that cast at least one ballot. */
  voters: number;
  /** Credentials whose last ballot counts: voters that were not overridden. */
  counted: number;
  /** Override records accepted. */
  overrides: number;
  /** Report records accepted (corrections included). */
  reports: number;
  /** Tally records accepted. */
  tallies: number;
  /** Polling districts: the districts without sub-districts, which report. */
  polling: number;
  /** The electorate of the polling districts. */
  electorate: number;
};

/** E-ballots counted for one contest: credentials whose last ballot answers it and counts, and their weight. */
export type EballotCount = { ballots: number; weight: number };

/** State entry `election/<id>`. */
export type ElectionState = {
  id: string;
  title: string;
  /** Index of the `election` record. */
  index: number;
  /** The key that signed the `election` record; it alone signs `phase` and `districts` records. */
  authority: string;
  contests: ContestDef[];
  roles: Roles;
  revoting: Revoting;
  /** Id of the root district. */
  root: string;
  phase: ElectionPhase;
  /** Index of the record that entered each phase reached so far (`open`, `close`, `final`). */
  phases: { [phase: string]: number };
  /** Indexes of the `districts` records. */
  districtRecords: number[];
  counts: ElectionCounts;
  /** E-ballots counted per contest (after re-voting and paper overrides). */
  eballots: { [contest: string]: EballotCount };
  /** Index of the last record that changed what a tally counts (ballot, override, report, phase), or null. */
  changed: number | null;
  /** The leaf hash of the `election` record (base64): what every proof of the election binds. */
  hash: string;
  /**
   * An encrypted election's key (base64), fixed once every guardian accepted
   * it; null before (the election cannot open). Absent without guardians.
   */
  key?: string | null;
};

/**
 * State entry `ceremony/<election>` of an encrypted election: per guardian
 * (by index), its `guardian` record (index, commitments and communication
 * key, base64), and the indexes of its `shares` and `accept` records; `key`
 * is Σ K_{i,0} over the guardians published so far (base64).
 */
export type CeremonyState = {
  guardians: { [index: string]: { record: number; commitments: string[]; communication: string } };
  shares: { [index: string]: number };
  accepted: { [index: string]: number };
  key: string;
  /** Once every guardian accepted: each guardian's share image K̂_ℓ (base64), which its decryptions are verified with. */
  images?: { [index: string]: string };
};

/**
 * State entry `esum/<election>/<district>` of an encrypted election: per
 * contest, the sum of the counted ballots of the district's credentials
 * (each times its weight; sealed: α‖β per option, base64), how many and
 * their weight; `changed` is the index of the last record that changed it.
 */
export type EncryptedSumState = {
  contests: { [contest: string]: { ballots: number; weight: number; sum: string } };
  changed: number;
  /** The guardians' verified partial decryptions of these sums (base64 shares per contest, by guardian index). */
  decryptions?: { [index: string]: { record: number; shares: { [contest: string]: string[] } } };
  /** Once a quorum decrypted them: the counts per contest and option. */
  votes?: { [contest: string]: { [option: string]: number } };
};

/** State entry `district/<election>/<district>`. */
export type DistrictState = {
  name: string;
  parent: string | null;
  electorate: number;
  /** District ids from the root down to this district. */
  path: string[];
  /** Index of the record that defined it. */
  index: number;
  /** Sub-districts defined; a district with none is a polling district. */
  children: number;
};

/** State entry `cred/<election>/<key>`. */
export type CredentialState = {
  district: string;
  weight: number;
  /** Index of the `credentials` record that issued it. */
  index: number;
  /** Ballots cast with it. */
  ballots: number;
  /** Index of its last ballot (the one counted unless overridden), or null. */
  last: number | null;
  /** Index of the `override` record, or null. */
  overridden: number | null;
  /** The contests its last ballot answers, or null before any ballot. */
  contests: string[] | null;
  /** In an encrypted election, its last ballot's ciphertexts per contest (encrypted-election.ts sealedContests). */
  sealed?: { [contest: string]: string };
};

/** State entry `ballot/<tracker>`. */
export type BallotState = {
  election: string;
  credential: string;
  index: number;
  /** The ballot was spoiled (a Benaloh challenge; `index` is the `spoiled` record): it never counts. */
  spoiled?: true;
};

/** State entry `report/<election>/<district>/<contest>/<stage>`: the current report and its history. */
export type ReportState = {
  /** Index of the current (latest) report. */
  current: number;
  /** Indexes of every report for this (district, contest, stage), oldest first; the last is `current`. */
  indexes: number[];
  counts: { [option: string]: number };
  blank: number;
  invalid: number;
  protocol: string;
};

/**
 * State entry `log`: the log's configuration by its latest `log` record,
 * the indexes of all of them, and how many elections are open (a `log`
 * record is admitted only when none is).
 */
export type LogState = { origin: string; authorities: string[]; records: number[]; open: number };

/** State entry `tally/<election>`: the latest tally. */
export type TallyState = { index: number; size: number; root: string };

/** The state keys, by kind (see the module comment). */
export const stateKey = {
  log: (): string => 'log',
  election: (election: string): string => `election/${election}`,
  district: (election: string, district: string): string => `district/${election}/${district}`,
  credential: (election: string, key: string): string => `cred/${election}/${key}`,
  ballot: (tracker: string): string => `ballot/${tracker}`,
  report: (election: string, district: string, contest: string, stage: Stage): string =>
    `report/${election}/${district}/${contest}/${stage}`,
  tally: (election: string): string => `tally/${election}`,
  count: (election: string, contest: string): string => `count/${election}/${contest}`,
  ceremony: (election: string): string => `ceremony/${election}`,
  encryptedSum: (election: string, district: string): string => `esum/${election}/${district}`,
  encryptedVotes: (election: string): string => `evotes/${election}`,
};

/** Most districts one election may have (over all `election` and `districts` records). */
export const MAX_ELECTION_DISTRICTS = 1_000_000;

/**
 * Codes of {@link RuleError}, with when each applies. (How an API answers
 * them is the API's business: services/api/errors.ts.)
 *
 * | code | when |
 * |---|---|
 * | wrong_role | the signer lacks the role the record type needs (a log record: not the log key) |
 * | wrong_log | a log record that names another log's origin |
 * | log_not_configured | an election before the log's log record |
 * | election_open | a log record while an election is open |
 * | stale_log_record | a log record whose sequence is not the number of log records before it |
 * | outside_subtree | a reporter's subtrees do not hold the district |
 * | unknown_election | no such election |
 * | unknown_credential | ballot signer or overridden key is not a credential of the election |
 * | election_exists | election id already defined |
 * | district_exists | district id already defined in the election |
 * | duplicate_credential | credential already issued, or twice in the record |
 * | illegal_transition | phase is not the next one |
 * | wrong_phase | record type not allowed in the current phase |
 * | wrong_stage | preliminary report after the final one for the same district and contest |
 * | overridden | ballot or override for a credential already overridden |
 * | already_voted | second ballot under `revoting: "none"` |
 * | duplicate_record | the same ballot (tracker) is already in the log |
 * | stale_tally | tally over a smaller size than the latest tally |
 * | stale_tally_root | tally root is not the log's root at its size |
 * | unknown_district | district (or parent) not defined |
 * | unknown_contest | contest not in the election |
 * | unknown_option | option not in the contest |
 * | not_polling_district | report for a district that has sub-districts |
 * | outdated_tally | a record after the tally's size changed the count |
 * | wrong_tally | tally body not what counting the log gives (tally.ts), or a wrong lot seed |
 * | missing_option | report without a count for an option |
 * | over_electorate | counts + blank + invalid exceed the district's electorate |
 * | district_mismatch | override names another district than the credential's |
 * | bad_tree | new districts form a cycle or exceed the depth limit |
 * | too_many_districts | more than MAX_ELECTION_DISTRICTS districts |
 * | bad_tally_size | tally size beyond the records before it |
 * | already_published | a guardian's second `guardian`, `shares` or `accept` record |
 * | ceremony_incomplete | shares before every guardian published, accept before every guardian sent shares, open before every guardian accepted |
 * | wrong_quorum | a guardian's commitments are not as many as the quorum |
 * | wrong_shares | shares not for exactly every other guardian |
 * | wrong_key | an accepted key that is not the sum of the guardians' first commitments |
 * | invalid_proof | a guardian's proof of knowledge, or a ballot's range proofs, do not verify (or hold a non-canonical element) |
 * | wrong_ballot_form | an opaque ballot in an encrypted election, or an encrypted one in an election without guardians |
 * | spoiled_ballot | a ballot that was spoiled (its tracker is marked by a `spoiled` record) |
 * | wrong_opening | a spoiled ballot whose nonces do not open its ciphertexts to the stated votes |
 * | nothing_to_decrypt | a decryption for a district without encrypted sums |
 * | stale_decryption | a decryption of a district's sums as they were before a later change (decrypt again) |
 * | wrong_decryption | a decryption whose contests or options are not those of the district's sums |
 */
export const RULE_ERROR_CODES = [
  'wrong_role',
  'wrong_log',
  'log_not_configured',
  'election_open',
  'stale_log_record',
  'outside_subtree',
  'unknown_election',
  'unknown_credential',
  'election_exists',
  'district_exists',
  'duplicate_credential',
  'illegal_transition',
  'wrong_phase',
  'wrong_stage',
  'overridden',
  'already_voted',
  'duplicate_record',
  'stale_tally',
  'stale_tally_root',
  'unknown_district',
  'unknown_contest',
  'unknown_option',
  'not_polling_district',
  'outdated_tally',
  'wrong_tally',
  'missing_option',
  'over_electorate',
  'district_mismatch',
  'bad_tree',
  'too_many_districts',
  'bad_tally_size',
  'already_published',
  'ceremony_incomplete',
  'wrong_quorum',
  'wrong_shares',
  'wrong_key',
  'invalid_proof',
  'wrong_ballot_form',
  'spoiled_ballot',
  'wrong_opening',
  'nothing_to_decrypt',
  'stale_decryption',
  'wrong_decryption',
] as const;

/** A {@link RuleError} code. */
export type RuleErrorCode = (typeof RULE_ERROR_CODES)[number];

/** A record that is valid by itself but breaks an election rule given the state; `code` is stable (RULE_ERROR_CODES). */
export class RuleError extends UrnaError {
  declare readonly code: RuleErrorCode;
  constructor(code: RuleErrorCode, message: string) {
    super(code, message);
  }
}

/** Any reason a record is not admitted: by {@link decodeRecord} (itself) or {@link applyRecord} (the rules). */
export type Rejection = RuleError | RecordError | MalformedError | SignatureError;

/**
 * The keys of the state entries {@link applyRecord} reads for `decoded`,
 * without duplicates. A function of the record alone (never of the state), so
 * a caller can fetch them all in one batch before applying.
 */
export function stateKeys(decoded: DecodedRecord): string[] {
  const r = decoded.record;
  if (r.type === 'log') return [stateKey.log()];
  const e = r.election;
  const keys = [stateKey.election(e)];
  switch (r.type) {
    case 'election':
      keys.push(stateKey.log());
      break;
    case 'phase':
      keys.push(stateKey.log(), stateKey.ceremony(e));
      break;
    case 'guardian':
    case 'shares':
    case 'accept':
      keys.push(stateKey.ceremony(e));
      break;
    case 'districts': {
      const ids = new Set(r.body.districts.map((d) => d.id));
      for (const d of r.body.districts) keys.push(stateKey.district(e, d.id));
      for (const d of r.body.districts)
        if (d.parent !== null && !ids.has(d.parent)) keys.push(stateKey.district(e, d.parent));
      break;
    }
    case 'credentials':
      for (const c of r.body.credentials) keys.push(stateKey.credential(e, c.key));
      for (const c of r.body.credentials) keys.push(stateKey.district(e, c.district));
      break;
    case 'ballot':
      keys.push(stateKey.credential(e, r.signer), stateKey.ballot(trackerOf(decoded)));
      if ('encrypted' in r.body) keys.push(stateKey.encryptedSum(e, r.body.district));
      break;
    case 'override':
      keys.push(
        stateKey.credential(e, r.body.credential),
        stateKey.district(e, r.body.district),
        stateKey.encryptedSum(e, r.body.district),
        stateKey.encryptedVotes(e),
      );
      break;
    case 'spoiled':
      keys.push(stateKey.credential(e, r.signer), stateKey.ballot(spoiledTracker(r)));
      break;
    case 'decryption':
      keys.push(
        stateKey.ceremony(e),
        stateKey.district(e, r.body.district),
        stateKey.encryptedSum(e, r.body.district),
        stateKey.encryptedVotes(e),
      );
      break;
    case 'report': {
      const b = r.body;
      keys.push(
        stateKey.district(e, b.district),
        stateKey.report(e, b.district, b.contest, 'preliminary'),
        stateKey.report(e, b.district, b.contest, 'final'),
        stateKey.count(e, b.contest),
      );
      break;
    }
    case 'tally':
      keys.push(stateKey.tally(e), stateKey.encryptedVotes(e));
      for (const c of Object.keys(r.body.contests)) keys.push(stateKey.count(e, c));
      break;
  }
  return [...new Set(keys)];
}

/**
 * Applies the election rules to one decoded record at log index `index`,
 * reading only the entries {@link stateKeys} lists (through `read`, which it
 * never mutates nor the values it returns). Returns the entries to write, or
 * the RuleError that rejects the record; on a rejection nothing changes.
 * Deterministic: the same state, record, index and context give the same
 * result. See the module comment for the rules of each record type.
 *
 * Throws RangeError if `index` is not a non-negative safe integer, and
 * whatever `ctx.rootAt` throws. A record that did not come from
 * {@link decodeRecord} is outside the contract.
 */
export function applyRecord(
  read: StateReader,
  decoded: DecodedRecord,
  index: number,
  ctx: RulesContext,
): Effects | RuleError {
  checkIndex('applyRecord: index', index);
  const r = decoded.record;
  if (r.type === 'log') return applyLog(read, r, index, ctx);
  if (r.type === 'election') return applyElection(read, r, decoded.leafHash, index);
  const election = read(stateKey.election(r.election)) as ElectionState | undefined;
  if (election === undefined) return reject('unknown_election', `${r.type}: unknown election ${r.election}`);
  switch (r.type) {
    case 'districts':
      return applyDistricts(read, election, r, index);
    case 'credentials':
      return applyCredentials(read, election, r, index);
    case 'phase':
      return applyPhase(read, election, r, index);
    case 'guardian':
      return applyGuardian(read, election, r, index);
    case 'shares':
      return applyShares(read, election, r, index);
    case 'accept':
      return applyAccept(read, election, r, index);
    case 'ballot':
      return applyBallot(read, election, r, trackerOf(decoded), index, ctx);
    case 'spoiled':
      return applySpoiled(read, election, r, index);
    case 'override':
      return applyOverride(read, election, r, index);
    case 'decryption':
      return applyDecryption(read, election, r, index, ctx);
    case 'report':
      return applyReport(read, election, r, index);
    case 'tally':
      return applyTally(read, election, r, index, ctx);
  }
}

function reject(code: RuleErrorCode, message: string): RuleError {
  return new RuleError(code, message);
}

function trackerOf(decoded: DecodedRecord): string {
  return toHex(decoded.leafHash);
}

function withCounts(election: ElectionState, change: Partial<ElectionCounts>): ElectionState {
  return { ...election, counts: { ...election.counts, ...change } };
}

// ---- log ----

function applyLog(read: StateReader, r: LogRecord, index: number, ctx: RulesContext): Effects | RuleError {
  if (r.signer !== ctx.logKey) return reject('wrong_role', 'log: not signed by the log key');
  if (r.body.origin !== ctx.origin)
    return reject('wrong_log', `log: the record is for ${r.body.origin}, this log is ${ctx.origin}`);
  const log = read(stateKey.log()) as LogState | undefined;
  const sequence = log?.records.length ?? 0;
  if (r.body.sequence !== sequence)
    return reject(
      'stale_log_record',
      `log: sequence ${r.body.sequence}, but the log has ${sequence} log record(s): the next is sequence ${sequence}`,
    );
  if (log && log.open > 0)
    return reject(
      'election_open',
      `log: ${log.open} election(s) open; the authorities change only while none is`,
    );
  const value: LogState = {
    origin: r.body.origin,
    authorities: r.body.authorities,
    records: [...(log?.records ?? []), index],
    open: log?.open ?? 0,
  };
  return [[stateKey.log(), value]];
}

// ---- election ----

function applyElection(
  read: StateReader,
  r: ElectionRecord,
  leafHash: Hash,
  index: number,
): Effects | RuleError {
  const log = read(stateKey.log()) as LogState | undefined;
  if (log === undefined)
    return reject('log_not_configured', 'election: the log has no log record (entry 0) yet');
  if (!log.authorities.includes(r.signer))
    return reject('wrong_role', 'election: signer is not an authority this log trusts');
  const b = r.body;
  if (read(stateKey.election(b.id)) !== undefined)
    return reject('election_exists', `election ${b.id} already exists`);
  const paths = resolveDistrictPaths(b.districts, () => undefined);
  // decodeRecord checked the tree; a failure here means the record did not come from it.
  if (paths instanceof RecordError) return reject('bad_tree', paths.message);
  const root = b.districts.find((d) => d.parent === null)!;
  const state: ElectionState = {
    id: b.id,
    title: b.title,
    index,
    authority: r.signer,
    contests: b.contests.map((c) => ({
      id: c.id,
      title: c.title,
      options: c.options.map((o) => ({ id: o.id, title: o.title })),
      seats: c.seats,
      method: c.method,
    })),
    roles: {
      registrar: b.roles.registrar,
      reporters: b.roles.reporters.map((x) => ({ key: x.key, district: x.district })),
      counter: b.roles.counter,
      ...(b.roles.guardians
        ? { guardians: { keys: [...b.roles.guardians.keys], quorum: b.roles.guardians.quorum } }
        : {}),
    },
    revoting: b.revoting,
    root: root.id,
    phase: 'setup',
    phases: {},
    districtRecords: [],
    counts: {
      districts: b.districts.length,
      credentials: 0,
      ballots: 0,
      voters: 0,
      counted: 0,
      overrides: 0,
      reports: 0,
      tallies: 0,
      polling: 0,
      electorate: 0,
    },
    eballots: Object.fromEntries(b.contests.map((c) => [c.id, { ballots: 0, weight: 0 }])),
    changed: null,
    hash: toBase64(leafHash),
    ...(b.roles.guardians ? { key: null } : {}),
  };
  const { effects, polling } = districtEffects(read, b.id, b.districts, paths, index);
  const counts = { ...state.counts, polling: polling.count, electorate: polling.electorate };
  if (b.roles.guardians) {
    const ceremony: CeremonyState = { guardians: {}, shares: {}, accepted: {}, key: IDENTITY_B64 };
    effects.push([stateKey.ceremony(b.id), ceremony]);
  }
  return [[stateKey.election(b.id), { ...state, counts }], ...effects];
}

/**
 * The state entries of new districts `defs` (and of the earlier districts
 * that gain their first children), and the change in polling districts:
 * each new district is one until a child is defined under it.
 */
function districtEffects(
  read: StateReader,
  election: string,
  defs: readonly DistrictDef[],
  paths: Map<string, string[]>,
  index: number,
): { effects: Effects; polling: { count: number; electorate: number } } {
  const children = new Map<string, number>();
  for (const d of defs) if (d.parent !== null) children.set(d.parent, (children.get(d.parent) ?? 0) + 1);
  const polling = { count: 0, electorate: 0 };
  const effects: Effects = [];
  const ids = new Set(defs.map((d) => d.id));
  for (const d of defs) {
    const value: DistrictState = {
      name: d.name,
      parent: d.parent,
      electorate: d.electorate,
      path: paths.get(d.id)!,
      index,
      children: children.get(d.id) ?? 0,
    };
    if (value.children === 0) {
      polling.count++;
      polling.electorate += d.electorate;
    }
    effects.push([stateKey.district(election, d.id), value]);
  }
  for (const [parent, n] of children) {
    if (ids.has(parent)) continue;
    const before = read(stateKey.district(election, parent)) as DistrictState;
    if (before.children === 0) {
      polling.count--;
      polling.electorate -= before.electorate;
    }
    effects.push([stateKey.district(election, parent), { ...before, children: before.children + n }]);
  }
  return { effects, polling };
}

// ---- districts ----

function applyDistricts(
  read: StateReader,
  election: ElectionState,
  r: DistrictsRecord,
  index: number,
): Effects | RuleError {
  if (r.signer !== election.authority)
    return reject('wrong_role', 'districts: signer is not the authority that defined the election');
  if (election.phase !== 'setup')
    return reject('wrong_phase', `districts: only during setup (election is ${election.phase})`);
  const e = election.id;
  for (const d of r.body.districts)
    if (read(stateKey.district(e, d.id)) !== undefined)
      return reject('district_exists', `districts: district ${d.id} already exists`);
  const total = election.counts.districts + r.body.districts.length;
  if (total > MAX_ELECTION_DISTRICTS)
    return reject('too_many_districts', `districts: more than ${MAX_ELECTION_DISTRICTS} districts`);
  const paths = resolveDistrictPaths(
    r.body.districts,
    (id) => (read(stateKey.district(e, id)) as DistrictState | undefined)?.path,
  );
  if (paths instanceof RecordError)
    return reject(
      paths.code === 'bad_reference' ? 'unknown_district' : 'bad_tree',
      `districts: ${paths.message}`,
    );
  const { effects, polling } = districtEffects(read, e, r.body.districts, paths, index);
  const next: ElectionState = {
    ...withCounts(election, {
      districts: total,
      polling: election.counts.polling + polling.count,
      electorate: election.counts.electorate + polling.electorate,
    }),
    districtRecords: [...election.districtRecords, index],
  };
  return [[stateKey.election(e), next], ...effects];
}

// ---- credentials ----

function applyCredentials(
  read: StateReader,
  election: ElectionState,
  r: CredentialsRecord,
  index: number,
): Effects | RuleError {
  if (r.signer !== election.roles.registrar)
    return reject('wrong_role', 'credentials: signer is not the registrar of the election');
  if (election.phase !== 'setup' && election.phase !== 'open')
    return reject('wrong_phase', `credentials: voting is ${election.phase}d`);
  const e = election.id;
  const seen = new Set<string>();
  const effects: Effects = [];
  for (const c of r.body.credentials) {
    if (seen.has(c.key) || read(stateKey.credential(e, c.key)) !== undefined)
      return reject('duplicate_credential', `credentials: credential ${c.key} already issued`);
    seen.add(c.key);
    if (read(stateKey.district(e, c.district)) === undefined)
      return reject('unknown_district', `credentials: unknown district ${c.district}`);
    const value: CredentialState = {
      district: c.district,
      weight: c.weight ?? 1,
      index,
      ballots: 0,
      last: null,
      overridden: null,
      contests: null,
    };
    effects.push([stateKey.credential(e, c.key), value]);
  }
  const next = withCounts(election, { credentials: election.counts.credentials + r.body.credentials.length });
  return [[stateKey.election(e), next], ...effects];
}

// ---- phase ----

const NEXT_PHASE: { [phase in ElectionPhase]: Phase | null } = {
  setup: 'open',
  open: 'close',
  close: 'final',
  final: null,
};

function applyPhase(
  read: StateReader,
  election: ElectionState,
  r: PhaseRecord,
  index: number,
): Effects | RuleError {
  if (r.signer !== election.authority)
    return reject('wrong_role', 'phase: signer is not the authority that defined the election');
  const next = NEXT_PHASE[election.phase];
  if (r.body.phase !== next)
    return reject(
      'illegal_transition',
      `phase: cannot go from ${election.phase} to ${r.body.phase}` + (next ? ` (next is ${next})` : ''),
    );
  if (next === 'open' && election.key === null) {
    const ceremony = read(stateKey.ceremony(election.id)) as CeremonyState;
    const missing = missingGuardians(election, ceremony.accepted);
    return reject(
      'ceremony_incomplete',
      `phase: the election key is not fixed: guardian(s) ${missing.join(', ')} have not accepted it`,
    );
  }
  const value: ElectionState = {
    ...election,
    phase: next,
    phases: { ...election.phases, [next]: index },
    // Closing fixes the lot seed and final marks the tally final: both change a tally.
    changed: next === 'open' ? election.changed : index,
  };
  const effects: Effects = [[stateKey.election(election.id), value]];
  // The log counts open elections: its authorities change only while none is.
  const log = read(stateKey.log()) as LogState;
  if (next === 'open') effects.push([stateKey.log(), { ...log, open: log.open + 1 }]);
  if (next === 'close') effects.push([stateKey.log(), { ...log, open: log.open - 1 }]);
  return effects;
}

// ---- the guardians' key ceremony ----

/** Base64 of the identity's encoding (32 zero bytes): the empty sum of keys. */
const IDENTITY_B64 = toBase64(encodeElement(IDENTITY));

/** The guardian indexes (1 … n) of `election` absent from `done`. */
function missingGuardians(election: ElectionState, done: { [index: string]: unknown }): number[] {
  const n = election.roles.guardians?.keys.length ?? 0;
  return Array.from({ length: n }, (_, i) => i + 1).filter((i) => !Object.hasOwn(done, String(i)));
}

/** A step of the key ceremony that must be complete before the next: what it records, and how to say it. */
type CeremonyPrerequisite = { done: (c: CeremonyState) => { [index: string]: unknown }; missing: string };

/**
 * What the three ceremony records share: the election is encrypted, the
 * signer is the guardian of the stated index, the election is in setup, the
 * guardian did not publish this kind of record before (`done`), and every
 * guardian completed the step before it (`after`, if any).
 */
function ceremonyStep(
  read: StateReader,
  election: ElectionState,
  r: GuardianRecord | SharesRecord | AcceptRecord,
  done: (c: CeremonyState) => { [index: string]: unknown },
  after?: CeremonyPrerequisite,
): CeremonyState | RuleError {
  const guardians = election.roles.guardians;
  if (guardians === undefined)
    return reject('wrong_role', `${r.type}: election ${election.id} has no guardians`);
  if (guardians.keys[r.body.index - 1] !== r.signer)
    return reject('wrong_role', `${r.type}: signer is not guardian ${r.body.index} of the election`);
  if (election.phase !== 'setup')
    return reject('wrong_phase', `${r.type}: the key ceremony is over (${election.phase})`);
  const ceremony = read(stateKey.ceremony(election.id)) as CeremonyState;
  if (Object.hasOwn(done(ceremony), String(r.body.index)))
    return reject('already_published', `${r.type}: guardian ${r.body.index} already published one`);
  const waiting = after ? missingGuardians(election, after.done(ceremony)) : [];
  if (waiting.length > 0)
    return reject('ceremony_incomplete', `${r.type}: guardian(s) ${waiting.join(', ')} ${after!.missing}`);
  return ceremony;
}

function applyGuardian(
  read: StateReader,
  election: ElectionState,
  r: GuardianRecord,
  index: number,
): Effects | RuleError {
  const ceremony = ceremonyStep(read, election, r, (c) => c.guardians);
  if (ceremony instanceof RuleError) return ceremony;
  const quorum = election.roles.guardians!.quorum;
  if (r.body.commitments.length !== quorum)
    return reject(
      'wrong_quorum',
      `guardian: ${r.body.commitments.length} commitment(s); the quorum is ${quorum}`,
    );
  const keys = guardianKeys(r.body, quorum, fromBase64(election.hash));
  if (keys === null)
    return reject(
      'invalid_proof',
      `guardian: a proof of knowledge of guardian ${r.body.index} does not verify`,
    );
  const sum = decodeElement(fromBase64(ceremony.key)).add(keys.key.commitments[0]!);
  const next: CeremonyState = {
    ...ceremony,
    guardians: {
      ...ceremony.guardians,
      [r.body.index]: {
        record: index,
        commitments: r.body.commitments.map((c) => c.key),
        communication: r.body.communication.key,
      },
    },
    key: toBase64(encodeElement(sum)),
  };
  return [[stateKey.ceremony(election.id), next]];
}

function applyShares(
  read: StateReader,
  election: ElectionState,
  r: SharesRecord,
  index: number,
): Effects | RuleError {
  const ceremony = ceremonyStep(read, election, r, (c) => c.shares, {
    done: (c) => c.guardians,
    missing: 'have not published their commitments yet',
  });
  if (ceremony instanceof RuleError) return ceremony;
  const n = election.roles.guardians!.keys.length;
  const others = Array.from({ length: n }, (_, i) => i + 1).filter((i) => i !== r.body.index);
  const to = r.body.shares.map((x) => x.to);
  if (to.length !== others.length || !to.every((t, i) => t === others[i]))
    return reject('wrong_shares', `shares: expected one share for each of guardians ${others.join(', ')}`);
  for (const x of r.body.shares) {
    try {
      decodeElement(fromBase64(x.alpha));
    } catch (e) {
      if (!(e instanceof MalformedError)) throw e;
      return reject('wrong_shares', `shares: the share for guardian ${x.to} has no valid α`);
    }
  }
  const next: CeremonyState = { ...ceremony, shares: { ...ceremony.shares, [r.body.index]: index } };
  return [[stateKey.ceremony(election.id), next]];
}

function applyAccept(
  read: StateReader,
  election: ElectionState,
  r: AcceptRecord,
  index: number,
): Effects | RuleError {
  const ceremony = ceremonyStep(read, election, r, (c) => c.accepted, {
    done: (c) => c.shares,
    missing: 'have not sent their shares yet',
  });
  if (ceremony instanceof RuleError) return ceremony;
  if (r.body.key !== ceremony.key)
    return reject('wrong_key', `accept: the election key is ${ceremony.key}, not ${r.body.key}`);
  const next: CeremonyState = { ...ceremony, accepted: { ...ceremony.accepted, [r.body.index]: index } };
  const complete = missingGuardians(election, next.accepted).length === 0;
  if (!complete) return [[stateKey.ceremony(election.id), next]];
  const commitments = Object.fromEntries(Object.entries(next.guardians).map(([i, g]) => [i, g.commitments]));
  return [
    [stateKey.ceremony(election.id), { ...next, images: shareImages(commitments) }],
    [stateKey.election(election.id), { ...election, key: ceremony.key }],
  ];
}

// ---- ballot ----

function applyBallot(
  read: StateReader,
  election: ElectionState,
  r: BallotRecord,
  tracker: string,
  index: number,
  ctx: RulesContext,
): Effects | RuleError {
  const e = election.id;
  const credKey = stateKey.credential(e, r.signer);
  const cred = read(credKey) as CredentialState | undefined;
  if (cred === undefined) return reject('unknown_credential', `ballot: signer is not a credential of ${e}`);
  if (election.phase !== 'open')
    return reject('wrong_phase', `ballot: voting is not open (${election.phase})`);
  for (const c of r.body.contests)
    if (!election.contests.some((x) => x.id === c))
      return reject('unknown_contest', `ballot: unknown contest ${c}`);
  if (cred.overridden !== null)
    return reject('overridden', `ballot: the credential voted on paper (override at ${cred.overridden})`);
  if (election.revoting === 'none' && cred.ballots > 0)
    return reject('already_voted', `ballot: re-voting is not allowed (ballot at ${cred.last})`);
  const seen = read(stateKey.ballot(tracker)) as BallotState | undefined;
  if (seen?.spoiled)
    return reject(
      'spoiled_ballot',
      `ballot: ballot ${tracker} was spoiled (at ${seen.index}); it never counts`,
    );
  if (seen !== undefined)
    return reject('duplicate_record', `ballot: ballot ${tracker} is already in the log`);
  const encrypted = 'encrypted' in r.body ? r.body : null;
  if ((election.key !== undefined) !== (encrypted !== null))
    return reject(
      'wrong_ballot_form',
      encrypted === null
        ? `ballot: election ${e} is encrypted; a ballot carries ciphertexts with proofs`
        : `ballot: election ${e} has no guardians; its ballots are opaque`,
    );
  let sums: Effects = [];
  let sealed: { [contest: string]: string } | undefined;
  if (encrypted !== null) {
    if (encrypted.district !== cred.district)
      return reject('district_mismatch', `ballot: the credential's district is not ${encrypted.district}`);
    const key = election.key!;
    const proven =
      ctx.provenBallot?.(tracker, { key, hash: election.hash }) ??
      verifyBallotProofs(encryptionContext({ ...election, key }), encrypted, fromBase64(r.signer));
    if (!proven)
      return reject('invalid_proof', 'ballot: its proofs do not verify for this credential and election');
    sealed = sealedContests(encrypted);
    sums = moveEncryptedSums(read, election, cred, sealed, index);
  }
  const first = cred.ballots === 0;
  const nextElection: ElectionState = {
    ...withCounts(election, {
      ballots: election.counts.ballots + 1,
      voters: election.counts.voters + (first ? 1 : 0),
      counted: election.counts.counted + (first ? 1 : 0),
    }),
    eballots: moveEballots(election.eballots, cred.weight, cred.contests, r.body.contests),
    changed: index,
  };
  const nextCred: CredentialState = {
    ...cred,
    ballots: cred.ballots + 1,
    last: index,
    contests: r.body.contests,
    ...(sealed ? { sealed } : {}),
  };
  const ballot: BallotState = { election: e, credential: r.signer, index };
  return [
    [stateKey.election(e), nextElection],
    [credKey, nextCred],
    [stateKey.ballot(tracker), ballot],
    ...sums,
  ];
}

/**
 * The encrypted sum of the credential's district (in an encrypted election)
 * after its counted ballot changes from the one it last cast (if any) to
 * the sealed contests `to` (null: an override, none counts).
 */
function moveEncryptedSums(
  read: StateReader,
  election: ElectionState,
  cred: CredentialState,
  to: { [contest: string]: string } | null,
  index: number,
): Effects {
  const key = stateKey.encryptedSum(election.id, cred.district);
  const before = read(key) as EncryptedSumState | undefined;
  const contests = { ...before?.contests };
  const move = (sealed: { [contest: string]: string }, sign: 1 | -1) => {
    for (const [c, ct] of Object.entries(sealed)) {
      const was = contests[c];
      contests[c] = {
        ballots: (was?.ballots ?? 0) + sign,
        weight: (was?.weight ?? 0) + sign * cred.weight,
        sum: addSealed(was?.sum, ct, cred.weight, sign),
      };
    }
  };
  if (cred.sealed) move(cred.sealed, -1);
  if (to) move(to, 1);
  // The sums changed: a decryption of them before is void, and so are the
  // votes it gave (only an override meets one: ballots are cast while open,
  // decryptions come after close).
  const value: EncryptedSumState = { contests, changed: index };
  const effects: Effects = [[key, value]];
  if (before?.votes) {
    const district = read(stateKey.district(election.id, cred.district)) as DistrictState;
    const votes = read(stateKey.encryptedVotes(election.id)) as EncryptedVotesState;
    effects.push([
      stateKey.encryptedVotes(election.id),
      moveEncryptedVotes(votes, decryptedDistrict(before), unitIn(election, district), -1),
    ]);
  }
  return effects;
}

/** A decrypted district's counts per contest, as tally.ts moveEncryptedVotes takes them. */
function decryptedDistrict(sums: EncryptedSumState): Parameters<typeof moveEncryptedVotes>[1] {
  const out: Parameters<typeof moveEncryptedVotes>[1] = {};
  for (const [c, x] of Object.entries(sums.contests))
    out[c] = { ballots: x.ballots, weight: x.weight, votes: sums.votes![c]! };
  return out;
}

/** The unit (tally.ts unitOf) of `district` for each contest of `election`, by contest id. */
function unitIn(election: ElectionState, district: DistrictState): (contest: string) => string {
  return (c) =>
    unitOf(
      election.contests.find((x) => x.id === c)!,
      district.path,
      election.root,
    );
}

// ---- decryption ----

/**
 * A guardian's partial decryption of one polling district's sums. After
 * voting closed; of the sums as they are now (`changed`); once per guardian
 * and state of the sums; every share proven against the guardian's share
 * image. When a quorum of guardians has decrypted the sums, their counts are
 * recovered and join the decrypted votes (which the tally counts).
 */
function applyDecryption(
  read: StateReader,
  election: ElectionState,
  r: DecryptionRecord,
  index: number,
  ctx: RulesContext,
): Effects | RuleError {
  const e = election.id;
  const b = r.body;
  const guardians = election.roles.guardians;
  if (guardians === undefined) return reject('wrong_role', `decryption: election ${e} has no guardians`);
  if (guardians.keys[b.index - 1] !== r.signer)
    return reject('wrong_role', `decryption: signer is not guardian ${b.index} of the election`);
  if (election.phase !== 'close' && election.phase !== 'final')
    return reject('wrong_phase', `decryption: only after voting closes (${election.phase})`);
  const district = read(stateKey.district(e, b.district)) as DistrictState | undefined;
  if (district === undefined) return reject('unknown_district', `decryption: unknown district ${b.district}`);
  const key = stateKey.encryptedSum(e, b.district);
  const sums = read(key) as EncryptedSumState | undefined;
  if (sums === undefined)
    return reject('nothing_to_decrypt', `decryption: district ${b.district} has no encrypted ballots`);
  if (b.changed !== sums.changed)
    return reject(
      'stale_decryption',
      `decryption: district ${b.district}'s sums are as of record ${sums.changed}, not ${b.changed}; decrypt again`,
    );
  if (sums.decryptions && Object.hasOwn(sums.decryptions, String(b.index)))
    return reject(
      'already_published',
      `decryption: guardian ${b.index} already decrypted district ${b.district}'s sums`,
    );
  const wanted = Object.keys(sums.contests).sort();
  const given = Object.keys(b.contests).sort();
  if (wanted.join() !== given.join())
    return reject(
      'wrong_decryption',
      `decryption: district ${b.district}'s sums are of contest(s) ${wanted.join(', ')}, not ${given.join(', ')}`,
    );
  const sealed: { [contest: string]: string } = {};
  for (const c of wanted) {
    const options = election.contests.find((x) => x.id === c)!.options.length;
    if (b.contests[c]!.length !== options)
      return reject('wrong_decryption', `decryption: contest ${c} has ${options} options`);
    sealed[c] = sums.contests[c]!.sum;
  }
  const ceremony = read(stateKey.ceremony(e)) as CeremonyState;
  const image = decodeElement(fromBase64(ceremony.images![b.index]!));
  const proven = ctx.provenDecryption?.({
    index: b.index,
    district: b.district,
    changed: b.changed,
    hash: election.hash,
  });
  const failed = proven === true ? null : failedDecryption(b, sealed, image, fromBase64(election.hash));
  if (failed !== null) {
    const option = election.contests.find((x) => x.id === failed.contest)!.options[failed.option]!.id;
    return reject(
      'invalid_proof',
      `decryption: guardian ${b.index}'s share for district ${b.district}, contest ${failed.contest}, option ${option} does not verify`,
    );
  }
  const shares: { [contest: string]: string[] } = {};
  for (const c of wanted) shares[c] = b.contests[c]!.map((x) => x.share);
  const decryptions: NonNullable<EncryptedSumState['decryptions']> = {
    ...sums.decryptions,
    [b.index]: { record: index, shares },
  };
  const next: EncryptedSumState = { ...sums, decryptions };
  if (sums.votes !== undefined || Object.keys(decryptions).length < guardians.quorum) return [[key, next]];
  // A quorum: recover the counts (any quorum of verified shares gives the same).
  const electionKey = decodeElement(fromBase64(election.key!));
  const votes: { [contest: string]: { [option: string]: number } } = {};
  for (const c of wanted) {
    const contest = election.contests.find((x) => x.id === c)!;
    const byGuardian = Object.fromEntries(Object.entries(decryptions).map(([i, d]) => [i, d.shares[c]!]));
    let counts: number[];
    try {
      counts = decryptSum(sealed[c]!, sums.contests[c]!.weight, byGuardian, electionKey);
    } catch (err) {
      if (err instanceof RangeError)
        return reject(
          'invalid_proof',
          `decryption: district ${b.district}'s contest ${c} does not decrypt to counts`,
        );
      throw err;
    }
    votes[c] = Object.fromEntries(contest.options.map((o, i) => [o.id, counts[i]!]));
  }
  const decrypted: EncryptedSumState = { ...next, votes };
  const before = read(stateKey.encryptedVotes(e)) as EncryptedVotesState | undefined;
  return [
    [key, decrypted],
    [
      stateKey.encryptedVotes(e),
      moveEncryptedVotes(before, decryptedDistrict(decrypted), unitIn(election, district), 1),
    ],
    [stateKey.election(e), { ...election, changed: index }],
  ];
}

/**
 * E-ballot counts after one credential (of `weight`) stops counting for the
 * contests of its previous ballot (`from`, null for none) and counts for
 * those of its new one (`to`, null for none: an override). A new object.
 */
function moveEballots(
  counts: { [contest: string]: EballotCount },
  weight: number,
  from: readonly string[] | null,
  to: readonly string[] | null,
): { [contest: string]: EballotCount } {
  const next = { ...counts };
  const add = (contests: readonly string[] | null, sign: 1 | -1) => {
    for (const c of contests ?? []) {
      const n = next[c]!;
      next[c] = { ballots: n.ballots + sign, weight: n.weight + sign * weight };
    }
  };
  add(from, -1);
  add(to, 1);
  return next;
}

// ---- spoiled ----

/** The tracker of the ballot a `spoiled` record spoils: the leaf hash (hex) of that ballot record. */
export function spoiledTracker(r: SpoiledRecord): string {
  const ballot = {
    v: 1,
    type: 'ballot',
    election: r.election,
    body: r.body.ballot,
    signer: r.signer,
    sig: r.body.sig,
  };
  return toHex(leafHash(utf8(canonicalize(ballot as unknown as JsonValue))));
}

/**
 * A spoiled ballot, published by its credential while voting is open: the
 * proofs of the ballot it spoils verify, and each contest's nonces open its
 * ciphertexts to exactly the stated votes. The ballot's tracker is marked
 * spoiled; nothing is counted.
 */
function applySpoiled(
  read: StateReader,
  election: ElectionState,
  r: SpoiledRecord,
  index: number,
): Effects | RuleError {
  const e = election.id;
  const cred = read(stateKey.credential(e, r.signer)) as CredentialState | undefined;
  if (cred === undefined) return reject('unknown_credential', `spoiled: signer is not a credential of ${e}`);
  if (election.phase !== 'open')
    return reject('wrong_phase', `spoiled: ballots are spoiled while voting is open (${election.phase})`);
  if (!election.key) return reject('wrong_ballot_form', `spoiled: election ${e} has no guardians`);
  const ballot = r.body.ballot;
  for (const c of ballot.contests)
    if (!election.contests.some((x) => x.id === c))
      return reject('unknown_contest', `spoiled: unknown contest ${c}`);
  if (ballot.district !== cred.district)
    return reject('district_mismatch', `spoiled: the credential's district is not ${ballot.district}`);
  const tracker = spoiledTracker(r);
  if (read(stateKey.ballot(tracker)) !== undefined)
    return reject('duplicate_record', `spoiled: ballot ${tracker} is already in the log`);
  let openings: ContestOpening[];
  try {
    openings = r.body.openings.map((o) => ({
      contest: o.contest,
      nonces: o.nonces.map((n) => decodeScalar(fromBase64(n), 'nonce')),
      choices: o.choices,
    }));
  } catch (err) {
    if (!(err instanceof MalformedError)) throw err;
    return reject('wrong_opening', `spoiled: a nonce is not a scalar: ${err.message}`);
  }
  const ctx = encryptionContext({ ...election, key: election.key });
  const checked = checkSpoiledBallot(ctx, ballot, fromBase64(r.signer), openings);
  if (!checked.ok) {
    const f = checked.failure;
    if (f.code === 'proofs')
      return reject(
        'invalid_proof',
        "spoiled: the ballot's proofs do not verify for this credential and election",
      );
    return reject(
      'wrong_opening',
      f.code === 'nonces'
        ? `spoiled: the nonces of contest ${f.contest} do not open its ciphertexts`
        : f.code === 'choices'
          ? `spoiled: contest ${f.contest} encrypts ${JSON.stringify(f.encrypted)}, not the stated votes`
          : 'spoiled: the openings are not one per contest of the ballot',
    );
  }
  const state: BallotState = { election: e, credential: r.signer, index, spoiled: true };
  return [[stateKey.ballot(tracker), state]];
}

// ---- override ----

function reporterDistricts(election: ElectionState, key: string): string[] {
  return election.roles.reporters.filter((x) => x.key === key).map((x) => x.district);
}

function applyOverride(
  read: StateReader,
  election: ElectionState,
  r: OverrideRecord,
  index: number,
): Effects | RuleError {
  const e = election.id;
  const subtrees = reporterDistricts(election, r.signer);
  if (subtrees.length === 0)
    return reject('wrong_role', 'override: signer is not a reporter of the election');
  if (election.phase !== 'open' && election.phase !== 'close')
    return reject('wrong_phase', `override: only while open or closed (${election.phase})`);
  const credKey = stateKey.credential(e, r.body.credential);
  const cred = read(credKey) as CredentialState | undefined;
  if (cred === undefined)
    return reject('unknown_credential', `override: unknown credential ${r.body.credential}`);
  if (cred.district !== r.body.district)
    return reject('district_mismatch', `override: the credential's district is not ${r.body.district}`);
  const district = read(stateKey.district(e, r.body.district)) as DistrictState | undefined;
  if (district === undefined)
    return reject('unknown_district', `override: unknown district ${r.body.district}`);
  if (!subtrees.some((s) => district.path.includes(s)))
    return reject(
      'outside_subtree',
      `override: district ${r.body.district} is outside the reporter's subtree`,
    );
  if (cred.overridden !== null)
    return reject('overridden', `override: already overridden at ${cred.overridden}`);
  const voted = cred.ballots > 0;
  const nextElection: ElectionState = {
    ...withCounts(election, {
      overrides: election.counts.overrides + 1,
      counted: election.counts.counted - (voted ? 1 : 0),
    }),
    eballots: moveEballots(election.eballots, cred.weight, cred.contests, null),
    changed: index,
  };
  const nextCred: CredentialState = { ...cred, overridden: index };
  return [
    [stateKey.election(e), nextElection],
    [credKey, nextCred],
    ...(cred.sealed ? moveEncryptedSums(read, election, cred, null, index) : []),
  ];
}

// ---- report ----

function applyReport(
  read: StateReader,
  election: ElectionState,
  r: ReportRecord,
  index: number,
): Effects | RuleError {
  const e = election.id;
  const b = r.body;
  const subtrees = reporterDistricts(election, r.signer);
  if (subtrees.length === 0) return reject('wrong_role', 'report: signer is not a reporter of the election');
  if (election.phase !== 'close')
    return reject(
      'wrong_phase',
      election.phase === 'final'
        ? 'report: the election is final; nothing can be reported'
        : `report: reports only after voting closes (${election.phase})`,
    );
  const district = read(stateKey.district(e, b.district)) as DistrictState | undefined;
  if (district === undefined) return reject('unknown_district', `report: unknown district ${b.district}`);
  if (!subtrees.some((s) => district.path.includes(s)))
    return reject('outside_subtree', `report: district ${b.district} is outside the reporter's subtree`);
  if (district.children > 0)
    return reject(
      'not_polling_district',
      `report: ${b.district} has sub-districts; reports are for polling districts`,
    );
  const contest = election.contests.find((c) => c.id === b.contest);
  if (contest === undefined) return reject('unknown_contest', `report: unknown contest ${b.contest}`);
  for (const option of Object.keys(b.counts))
    if (!contest.options.some((o) => o.id === option))
      return reject('unknown_option', `report: unknown option ${option} of contest ${contest.id}`);
  for (const o of contest.options)
    if (!Object.hasOwn(b.counts, o.id))
      return reject('missing_option', `report: no count for option ${o.id}`);
  // Partial sums stay exact: each is at most electorate + one count, below 2^54,
  // and the first one over the electorate stops the loop.
  let total = b.blank;
  for (const n of [b.invalid, ...Object.values(b.counts)]) {
    if (total > district.electorate) break;
    total += n;
  }
  if (total > district.electorate)
    return reject(
      'over_electorate',
      `report: counts exceed the electorate of ${b.district} (${district.electorate})`,
    );
  const preliminary = read(stateKey.report(e, b.district, b.contest, 'preliminary')) as
    ReportState | undefined;
  const final = read(stateKey.report(e, b.district, b.contest, 'final')) as ReportState | undefined;
  if (b.stage === 'preliminary' && final !== undefined)
    return reject('wrong_stage', `report: a final report for ${b.district}/${b.contest} already exists`);
  const key = stateKey.report(e, b.district, b.contest, b.stage);
  const prev = b.stage === 'final' ? final : preliminary;
  const value: ReportState = {
    current: index,
    indexes: [...(prev?.indexes ?? []), index],
    counts: { ...b.counts },
    blank: b.blank,
    invalid: b.invalid,
    protocol: b.protocol,
  };
  const countKey = stateKey.count(e, contest.id);
  const count = countAfterReport(
    contest,
    read(countKey) as ContestCountState | undefined,
    unitOf(contest, district.path, election.root),
    district.electorate,
    b.stage,
    b,
    prev,
    preliminary,
  );
  return [
    [
      stateKey.election(e),
      { ...withCounts(election, { reports: election.counts.reports + 1 }), changed: index },
    ],
    [key, value],
    [countKey, count],
  ];
}

// ---- tally ----

function applyTally(
  read: StateReader,
  election: ElectionState,
  r: TallyRecord,
  index: number,
  ctx: RulesContext,
): Effects | RuleError {
  const e = election.id;
  const b = r.body;
  if (r.signer !== election.roles.counter)
    return reject('wrong_role', 'tally: signer is not the counter of the election');
  if (election.phase !== 'close' && election.phase !== 'final')
    return reject('wrong_phase', `tally: only after voting closes (${election.phase})`);
  if (b.size > index)
    return reject('bad_tally_size', `tally: size ${b.size} is beyond the log (${index} records before it)`);
  const close = election.phases.close!;
  if (b.size <= close)
    return reject(
      'bad_tally_size',
      `tally: size ${b.size} does not reach the record that closed voting (${close})`,
    );
  if (b.seed.size !== close + 1)
    return reject('wrong_tally', `tally: the lot seed is the tree at size ${close + 1}, not ${b.seed.size}`);
  const contests = Object.keys(b.contests);
  for (const c of contests)
    if (!election.contests.some((x) => x.id === c))
      return reject('unknown_contest', `tally: unknown contest ${c}`);
  for (const c of election.contests)
    if (!Object.hasOwn(b.contests, c.id))
      return reject('wrong_tally', `tally: no result for contest ${c.id}`);
  const key = stateKey.tally(e);
  const prev = read(key) as TallyState | undefined;
  if (prev !== undefined && b.size < prev.size)
    return reject('stale_tally', `tally: size ${b.size} is below the previous tally's ${prev.size}`);
  if (election.changed !== null && b.size <= election.changed)
    return reject(
      'outdated_tally',
      `tally: the record at ${election.changed} changed the count after size ${b.size}; count again`,
    );
  if (!equalBytes(fromBase64(b.root), ctx.rootAt(b.size)))
    return reject('stale_tally_root', `tally: root is not the log's root at size ${b.size}`);
  if (!equalBytes(fromBase64(b.seed.root), ctx.rootAt(b.seed.size)))
    return reject('wrong_tally', `tally: the lot seed is not the log's root at size ${b.seed.size}`);
  const expected = tallyOfState(read, election, b);
  const difference = firstDifference(expected, b, 'body');
  if (difference !== null)
    return reject('wrong_tally', `tally: not what counting the log gives: ${difference}`);
  const value: TallyState = { index, size: b.size, root: b.root };
  return [
    [stateKey.election(e), withCounts(election, { tallies: election.counts.tallies + 1 })],
    [key, value],
  ];
}

// ---- proofs verified ahead ----

/**
 * The state keys {@link proofAhead} reads for `decoded` (none: it carries no
 * proof to verify ahead). A function of the record alone.
 */
export function proofAheadKeys(decoded: DecodedRecord): string[] {
  const r = decoded.record;
  if (r.type === 'ballot' && 'encrypted' in r.body) return [stateKey.election(r.election)];
  if (r.type === 'decryption')
    return [
      stateKey.election(r.election),
      stateKey.ceremony(r.election),
      stateKey.encryptedSum(r.election, r.body.district),
    ];
  return [];
}

/**
 * The proofs `decoded` carries that can be verified before it is applied,
 * from the state before it (read through `read`, the keys of
 * {@link proofAheadKeys}): an encrypted ballot's, once its election's key is
 * fixed; a decryption's shares, when the sums it names are as it states them
 * and the guardian's share image is fixed. Null otherwise (the rules refuse
 * the record, or verify it themselves). A verifier (encrypted-election.ts
 * verifyProofItems, e.g. on a worker, many at once) gives the verdict, and
 * {@link provenAhead} hands it to the rules.
 */
export function proofAhead(decoded: DecodedRecord, read: StateReader): ProofItem | null {
  const r = decoded.record;
  if (r.type === 'ballot' && 'encrypted' in r.body) {
    const e = read(stateKey.election(r.election)) as ElectionState | undefined;
    if (!e?.key) return null;
    return {
      election: { hash: e.hash, key: e.key, contests: e.contests },
      body: r.body,
      credential: r.signer,
    };
  }
  if (r.type === 'decryption') {
    const e = read(stateKey.election(r.election)) as ElectionState | undefined;
    const image = (read(stateKey.ceremony(r.election)) as CeremonyState | undefined)?.images?.[r.body.index];
    const sums = read(stateKey.encryptedSum(r.election, r.body.district)) as EncryptedSumState | undefined;
    if (!e || image === undefined || sums?.changed !== r.body.changed) return null;
    const sealed = Object.fromEntries(Object.entries(sums.contests).map(([c, x]) => [c, x.sum]));
    return { decryption: r.body, hash: e.hash, image, sums: sealed };
  }
  return null;
}

/**
 * The rules' verdict hooks (RulesContext `provenBallot`, `provenDecryption`)
 * answering `ok` for `item` (what {@link proofAhead} gave for `decoded`), and
 * only for what it names: the ballot's tracker under its election's key and
 * hash; the decryption's guardian, district and state of the sums under its
 * election's hash. Anything else is undefined, and the rules verify it.
 */
export function provenAhead(
  decoded: DecodedRecord,
  item: ProofItem,
  ok: boolean,
): Pick<RulesContext, 'provenBallot' | 'provenDecryption'> {
  if ('credential' in item) {
    const tracker = toHex(decoded.leafHash);
    return {
      provenBallot: (t, e) =>
        t === tracker && e.key === item.election.key && e.hash === item.election.hash ? ok : undefined,
    };
  }
  const b = item.decryption;
  return {
    provenDecryption: (d) =>
      d.index === b.index && d.district === b.district && d.changed === b.changed && d.hash === item.hash
        ? ok
        : undefined,
  };
}

/**
 * tally.ts tallyBody over `point` for `election` from the state its counting
 * reads (each contest's count, the decrypted e-ballots): what the rules admit,
 * and what the counter and the verifier compute.
 */
export function tallyOfState(read: StateReader, election: ElectionState, point: TallyPoint): TallyBody {
  const e = election.id;
  return tallyBody(
    election,
    (c) => read(stateKey.count(e, c)) as ContestCountState | undefined,
    point,
    read(stateKey.encryptedVotes(e)) as EncryptedVotesState | undefined,
  );
}

/** Where two JSON values first differ (`path: expected X, got Y`), or null if they are equal. */
export function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  if (typeof expected === 'object' && expected !== null && typeof actual === 'object' && actual !== null) {
    if (Array.isArray(expected) !== Array.isArray(actual)) return `${path}: expected ${short(expected)}`;
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const k of keys) {
      const a = (expected as { [k: string]: unknown })[k];
      const b = (actual as { [k: string]: unknown })[k];
      if (a === undefined) return `${path}.${k}: not expected`;
      if (b === undefined) return `${path}.${k}: missing (expected ${short(a)})`;
      const d = firstDifference(a, b, `${path}.${k}`);
      if (d !== null) return d;
    }
    return null;
  }
  return expected === actual ? null : `${path}: expected ${short(expected)}, got ${short(actual)}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

// ---- Read views ----

/** The status of a ballot, for `GET /ballots/<tracker>`: a ballot cast, or one spoiled. */
export type BallotStatus = CastBallotStatus | SpoiledBallotStatus;

/** The status of a ballot cast. */
export type CastBallotStatus = {
  tracker: string;
  election: string;
  /** The credential (base64 public key) that signed it. */
  credential: string;
  /** Its index in the log. */
  index: number;
  /**
   * `included`: it is its credential's last ballot and counts; `superseded`:
   * a later ballot of the same credential counts instead; `overridden`: the
   * credential voted on paper, so none of its e-ballots count.
   */
  status: 'included' | 'superseded' | 'overridden';
  /** Index of the credential's last ballot. */
  last: number;
  /** Index of the override record, or null. */
  override: number | null;
};

/**
 * The status of a ballot spoiled by a Benaloh challenge: it is not in the
 * log, never counts, and is refused if submitted (`spoiled_ballot`).
 */
export type SpoiledBallotStatus = {
  tracker: string;
  election: string;
  /** The credential (base64 public key) that signed it and the spoiled record. */
  credential: string;
  /** The index of the `spoiled` record that published its opening. */
  index: number;
  status: 'spoiled';
  /** Index of the credential's last ballot, or null if it cast none. */
  last: number | null;
  /** Index of the override record, or null. */
  override: number | null;
};

/**
 * The status of the ballot with this tracker (hex leaf hash, either case),
 * or undefined if no ballot has it. Reads `ballot/<tracker>` and the
 * credential. Throws MalformedError if `tracker` is not 64 hex digits.
 */
export function ballotStatus(read: StateReader, tracker: string): BallotStatus | undefined {
  if (typeof tracker !== 'string' || !/^[0-9a-fA-F]{64}$/.test(tracker))
    throw new MalformedError('ballot tracker: expected 64 hex digits');
  const t = tracker.toLowerCase();
  const ballot = read(stateKey.ballot(t)) as BallotState | undefined;
  if (ballot === undefined) return undefined;
  const cred = read(stateKey.credential(ballot.election, ballot.credential)) as CredentialState;
  if (ballot.spoiled)
    return {
      tracker: t,
      election: ballot.election,
      credential: ballot.credential,
      index: ballot.index,
      status: 'spoiled',
      last: cred.last,
      override: cred.overridden,
    };
  const status =
    cred.overridden !== null ? 'overridden' : cred.last === ballot.index ? 'included' : 'superseded';
  return {
    tracker: t,
    election: ballot.election,
    credential: ballot.credential,
    index: ballot.index,
    status,
    last: cred.last!,
    override: cred.overridden,
  };
}

/** An election as `GET /elections/<id>` shows it: its state and the latest tally. */
export type ElectionSummary = ElectionState & { tally: TallyState | null };

/**
 * The summary of election `id` (manifest without districts, phase, counters,
 * latest tally), or undefined if there is no such election. Reads
 * `election/<id>` and `tally/<id>`. Never throws for a string `id`.
 */
export function electionSummary(read: StateReader, id: string): ElectionSummary | undefined {
  const election = read(stateKey.election(id)) as ElectionState | undefined;
  if (election === undefined) return undefined;
  const tally = (read(stateKey.tally(id)) as TallyState | undefined) ?? null;
  return { ...election, tally };
}

// ---- In-memory state and replay ----

/**
 * State in a Map, for replayers, the verifier and tests. With `freeze` (the
 * default), applied values are deep-frozen, so a rule that mutated what it
 * read would throw (ES modules are strict) instead of corrupting the state.
 */
export class MemoryState {
  readonly #entries = new Map<string, StateValue>();
  readonly #freeze: boolean;

  constructor(options: { freeze?: boolean } = {}) {
    this.#freeze = options.freeze ?? true;
  }

  /** Reads one entry (a {@link StateReader}, bound to this state). */
  readonly read: StateReader = (key) => this.#entries.get(key);

  /** Writes effects from {@link applyRecord}, in order. */
  apply(effects: Effects): void {
    for (const [key, value] of effects) this.#entries.set(key, this.#freeze ? deepFreeze(value) : value);
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entries, in insertion order. */
  entries(): IterableIterator<[string, StateValue]> {
    return this.#entries.entries();
  }

  /**
   * The whole state as RFC 8785 canonical JSON of an object from key to value:
   * equal states give byte-identical snapshots, whatever the order of writes.
   * Throws TypeError if a value is not JSON.
   */
  snapshot(): string {
    const o: { [key: string]: StateValue } = Object.create(null) as { [key: string]: StateValue };
    for (const [key, value] of this.#entries) o[key] = value;
    return canonicalize(o);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The outcome of one record in {@link replay}: accepted (no error) or rejected. */
export type ReplayResult = { index: number; error?: Rejection };

/**
 * Replays log entries through {@link decodeRecord} and {@link applyRecord},
 * in order: `records[i]` has index `start + i` (start defaults to 0). Rejected
 * records change nothing and are reported with their error. Continues from
 * `options.state` if given (it is modified), else from an empty MemoryState.
 *
 * Throws TypeError if an entry is not a Uint8Array, RangeError for a bad
 * `start`, and whatever `ctx.rootAt` throws.
 */
export function replay(
  records: readonly Uint8Array[],
  ctx: RulesContext,
  options: { state?: MemoryState; start?: number } = {},
): { state: MemoryState; results: ReplayResult[] } {
  const state = options.state ?? new MemoryState();
  const start = checkIndex('replay: start', options.start ?? 0);
  const results: ReplayResult[] = [];
  records.forEach((bytes, i) => {
    const index = start + i;
    let decoded: DecodedRecord;
    try {
      decoded = decodeRecord(bytes);
    } catch (e) {
      if (e instanceof UrnaError) {
        results.push({ index, error: e as Rejection });
        return;
      }
      throw e;
    }
    const outcome = applyRecord(state.read, decoded, index, ctx);
    if (outcome instanceof RuleError) {
      results.push({ index, error: outcome });
      return;
    }
    state.apply(outcome);
    results.push({ index });
  });
  return { state, results };
}
