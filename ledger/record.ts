/**
 * Election records: the signed envelopes that are the log's entries
 * (DESIGN.md "Records").
 *
 * A record is the UTF-8 bytes of the RFC 8785 (JCS) canonical JSON of
 *
 *     {"v":1,"type":T,"election":ID,"body":{...},"signer":B64KEY,"sig":B64SIG}
 *
 * where `signer` is a base64 (RFC 4648 §4, padded) Ed25519 public key and
 * `sig` is the base64 Ed25519 signature (RFC 8032) by that key over
 * `"urna/record/v1\n" || JCS(envelope without "sig")`. Each record is at
 * most {@link MAX_RECORD_SIZE} bytes (the uint16 length prefix of
 * c2sp.org/tlog-tiles entry bundles).
 *
 * This module checks everything a record says about itself: canonical bytes,
 * the schema of each type (exact field sets, types, ids, keys, bounds; see
 * {@link LIMITS}), internal consistency (unique ids, a district tree with one
 * root, references that resolve), and the signature. What a record means
 * against the election so far (roles, phases, credentials) is rules.ts.
 *
 * Every function here is synchronous and a pure function of its arguments, so
 * {@link decodeRecord} can run in a worker: its result is structured-clonable.
 */
import { concat, equalBytes, fromBase64, toBase64, toHex, utf8 } from './bytes.js';
import { ed25519 } from './ed25519.js';
import { SignatureError, UrnaError } from './errors.js';
import { leafHash, type Hash } from './hash.js';
import { canonicalBytes, NonCanonicalError, parseCanonical } from './jcs.js';
import { isValidKeyName } from './note.js';
import { decimalRatio, type Method, type SeatResult } from './seats.js';
import type { EncryptedContestJson } from './encrypted-contest.js';

/** The domain-separation prefix of record signatures (DESIGN.md "Records"). */
export const RECORD_SIGNATURE_PREFIX = 'urna/record/v1\n';

/** Largest record in bytes: entry bundles prefix each entry with a uint16 length (c2sp.org/tlog-tiles). */
export const MAX_RECORD_SIZE = 65_535;

/** The envelope version this module reads and writes. */
export const RECORD_VERSION = 1;

/**
 * Ids of elections, contests, options and districts: 1 to 64 characters, lower
 * case ASCII letters and digits, `.`, `_` and `-`, starting with a letter or
 * digit. They are safe in URL paths, file names and state keys (no `/`).
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Bounds on every variable-size part of a record (beyond the {@link MAX_RECORD_SIZE} overall). */
export const LIMITS = Object.freeze({
  /** Titles and names, in UTF-16 code units. */
  text: 256,
  /** Contests per election, per ballot, per tally. */
  contests: 64,
  /** Options per contest, and entries of a report's `counts`. */
  options: 256,
  /** Seats of one contest. */
  seats: 10_000,
  /** Districts per `election` or `districts` record (the record size binds first). */
  districtsPerRecord: 4096,
  /** Levels of the district tree, the root included. */
  districtDepth: 16,
  /** Reporter entries of an election. */
  reporters: 1024,
  /** Credentials per `credentials` record (the record size binds first). */
  credentialsPerRecord: 1024,
  /** Largest credential weight. */
  weight: 1_000_000,
  /** Constituencies of one contest's method. */
  constituencies: 1024,
  /** Largest ballot ciphertext, in decoded bytes (8 KiB). */
  ciphertext: 8192,
  /** Authority keys one log trusts at once. */
  authorities: 64,
  /** Guardians of one election (ledger/guardian.ts MAX_GUARDIANS). */
  guardians: 64,
  /** Largest range a range proof states (ledger/elgamal.ts MAX_RANGE): an option's or a contest's limit. */
  range: 64,
});

/**
 * Record types. `log` configures the log itself (see {@link LogBody});
 * `districts` extends an election's district tree during setup (see
 * {@link DistrictsBody}).
 */
export const RECORD_TYPES = [
  'log',
  'election',
  'districts',
  'credentials',
  'phase',
  'guardian',
  'shares',
  'accept',
  'ballot',
  'spoiled',
  'decryption',
  'override',
  'report',
  'tally',
] as const;

/** One of {@link RECORD_TYPES}. */
export type RecordType = (typeof RECORD_TYPES)[number];

/** A contest's counting method: the object ledger/seats.ts defines and allocates by (DESIGN.md "Counting"). */
export type { Method } from './seats.js';
/** Re-voting policy: the last ballot of a credential counts, or only one ballot is accepted. */
export type Revoting = 'last' | 'none';
/** A phase an authority can move an election into (it starts in `setup`). */
export type Phase = 'open' | 'close' | 'final';
/** Stage of a district report. */
export type Stage = 'preliminary' | 'final';

/** One option (candidate, party, answer) of a contest. */
export type OptionDef = { id: string; title: string };
/** One contest of an election. */
export type ContestDef = { id: string; title: string; options: OptionDef[]; seats: number; method: Method };
/** One district: `parent` is another district's id, or null for the root. `electorate` bounds reports. */
export type DistrictDef = { id: string; name: string; parent: string | null; electorate: number };
/** A reporter key and the root of the district subtree it may report for. */
export type ReporterDef = { key: string; district: string };
/**
 * The guardians of an encrypted election (DESIGN.md "Encrypted ballots"):
 * their Ed25519 keys (guardian i signs with `keys[i-1]`; 1 to
 * LIMITS.guardians, unique) and how many of them decrypt together
 * (`quorum`, 1 to the number of keys).
 */
export type GuardiansDef = { keys: string[]; quorum: number };
/**
 * The role keys of an election (base64 Ed25519 public keys). With
 * `guardians`, the election is encrypted: its ballots carry ElGamal
 * ciphertexts with proofs, and it opens only once the guardians fixed its key.
 */
export type Roles = {
  registrar: string;
  reporters: ReporterDef[];
  counter: string;
  guardians?: GuardiansDef;
};

/**
 * `election`: defines an election. Signed by an authority key the log trusts.
 * `id` equals the envelope's `election`. Contest ids are unique, option ids
 * unique within their contest. The districts form one tree: unique ids,
 * exactly one root (`parent: null`), every parent listed, no cycles, at most
 * LIMITS.districtDepth levels. Every reporter's district is listed, and no
 * (key, district) pair repeats. A key may report for several subtrees.
 */
export type ElectionBody = {
  id: string;
  title: string;
  contests: ContestDef[];
  districts: DistrictDef[];
  roles: Roles;
  revoting: Revoting;
};

/**
 * `districts` (an addition to DESIGN.md's table): more districts for an
 * election, signed by its authority while it is in `setup`. An `election`
 * record cannot hold thousands of districts within {@link MAX_RECORD_SIZE}
 * (Sweden has 6,004), so the tree may be extended by later records. Ids are
 * unique; none is a root (every `parent` is non-null). Parents may be defined
 * earlier in the log or in the same record (checked by the rules).
 */
export type DistrictsBody = { districts: DistrictDef[] };

/** A voting credential: public key, home district, weight (default 1). */
export type CredentialDef = { key: string; district: string; weight?: number };
/** `credentials`: voting credentials, signed by the election's registrar. */
export type CredentialsBody = { credentials: CredentialDef[] };
/** `phase`: moves the election to the next phase; signed by the authority that defined it. */
export type PhaseBody = { phase: Phase };
/** A Schnorr proof as JSON: base64 of its 32-byte challenge and response. */
export type ProofJson = { challenge: string; response: string };
/** A guardian's commitment K_{i,j} (base64 element) with its proof of knowledge. */
export type CommitmentJson = { key: string } & ProofJson;

/**
 * `guardian`: guardian `index`'s commitments K_{i,0} … K_{i,k-1} (k the
 * quorum) and its communication key, each with a Schnorr proof of
 * knowledge bound to the election's hash (ledger/guardian.ts). Signed by
 * the guardian's key, during setup.
 */
export type GuardianBody = { index: number; commitments: CommitmentJson[]; communication: CommitmentJson };
/** One share in transit (ledger/guardian.ts EncryptedShare): base64 of α, the 32-byte ciphertext and MAC. */
export type ShareJson = { to: number; alpha: string; ciphertext: string; mac: string };
/**
 * `shares`: guardian `index`'s share P_i(ℓ) for every other guardian ℓ,
 * each encrypted to ℓ's communication key, in ascending `to`. Signed by the
 * guardian, during setup, once every guardian published its commitments.
 */
export type SharesBody = { index: number; shares: ShareJson[] };
/**
 * `accept`: guardian `index` opened the shares sent to it, found each the
 * one its sender's commitments promise, and accepts `key` (base64) as the
 * election key. The election opens only once every guardian accepted it.
 */
export type AcceptBody = { index: number; key: string };
/** A partial decryption M_ℓ = s_ℓ·α of one option's sum with its Chaum-Pedersen proof (ledger/guardian.ts), base64. */
export type PartialDecryptionJson = { share: string } & ProofJson;
/**
 * `decryption`: guardian `index`'s partial decryptions of polling district
 * `district`'s encrypted sums (rules.ts EncryptedSumState) as they stood
 * after the record at `changed`: per contest of the sums, one per option in
 * the contest's order. Signed by the guardian, after voting closed.
 */
export type DecryptionBody = {
  index: number;
  district: string;
  changed: number;
  contests: { [contest: string]: PartialDecryptionJson[] };
};

/**
 * `ballot`: a ballot, signed by the credential key itself. `contests` lists
 * the contests it answers (unique ids). In an election without guardians,
 * `ciphertext` is opaque base64 of 1 to LIMITS.ciphertext bytes. In an
 * encrypted election, `encrypted` holds one encrypted contest per entry of
 * `contests`, in the same order, and `district` is the credential's home
 * district (so the rules know which district's sum it joins with a single
 * read, as an override does).
 */
export type BallotBody =
  | { contests: string[]; ciphertext: string }
  | { contests: string[]; district: string; encrypted: EncryptedContestJson[] };
/** What a spoiled ballot reveals of one contest: its nonces (base64 scalars, one per option in order) and the votes it states. */
export type OpeningJson = { contest: string; nonces: string[]; choices: { [option: string]: number } };
/**
 * `spoiled`: an encrypted ballot spoiled by a Benaloh challenge, published
 * by its credential: the ballot's body and signature (so the ballot record,
 * and its tracker, are exactly the one the voting client showed) and, per
 * contest in the ballot's order, its opening. A spoiled ballot is never
 * counted, and the ballot itself is refused afterwards.
 */
export type SpoiledBody = {
  ballot: { contests: string[]; district: string; encrypted: EncryptedContestJson[] };
  sig: string;
  openings: OpeningJson[];
};
/**
 * `override`: the credential voted on paper, so its e-ballots do not count.
 * Signed by a reporter whose subtree holds the credential's district.
 * `district` is the credential's home district, stated so that the rules can
 * check the reporter's subtree with a single read (it must match the credential).
 */
export type OverrideBody = { credential: string; district: string };
/**
 * `report`: a district's count for one contest, signed by a reporter whose
 * subtree holds the district. `counts` maps option ids to votes; `protocol`
 * is the lower-case hex SHA-256 of the scanned paper protocol.
 */
export type ReportBody = {
  district: string;
  contest: string;
  stage: Stage;
  counts: { [option: string]: number };
  blank: number;
  invalid: number;
  protocol: string;
};
/** Votes of one kind summed over polling districts (see {@link ContestTally}). */
export type CountSum = {
  /** Valid votes per option. */
  votes: { [option: string]: number };
  blank: number;
  invalid: number;
  /** Polling districts summed. */
  districts: number;
  /** Their electorate. */
  electorate: number;
};

/**
 * The e-ballots of one contest in a tally: how many count (after re-voting
 * and paper overrides) and their weight; in an encrypted election also
 * `decrypted`, those of the polling districts whose encrypted sums a quorum
 * of guardians decrypted, with their votes per option (which `counted`
 * includes).
 */
export type EballotTally = {
  ballots: number;
  weight: number;
  decrypted?: { ballots: number; weight: number; districts: number; votes: { [option: string]: number } };
};

/**
 * One contest's result in a tally (DESIGN.md "Counting"): the preliminary
 * and the final reports summed, and `counted`, each polling district's final
 * report where it has one and its preliminary one otherwise, plus (in
 * `votes`) the decrypted e-ballots' votes; the e-ballots counted (after
 * re-voting and paper overrides); how many polling districts (and what
 * electorate) there are; the seats by the contest's method over `counted`,
 * `provisional` until every polling district reported finally and every
 * e-ballot counted is decrypted.
 */
export type ContestTally = {
  preliminary: CountSum;
  final: CountSum;
  counted: CountSum;
  eballots: EballotTally;
  polling: number;
  electorate: number;
  provisional: boolean;
  seats: SeatResult;
};

/**
 * `tally`: the counter's results, computed over the log's first `size`
 * records, whose tree root is `root` (base64). `seed` is the lot's seed: the
 * tree of the first `seed.size` records, ending with the record that closed
 * voting. `phase` is the election's phase at `size`. The rules admit it only
 * if it is exactly what ledger/tally.ts computes from the log (rules.ts).
 */
export type TallyBody = {
  size: number;
  root: string;
  seed: { size: number; root: string };
  phase: 'close' | 'final';
  contests: { [contest: string]: ContestTally };
};

/**
 * `log`: the log's own configuration, signed by the log key (the Ed25519 key
 * of its checkpoints): its origin, and the authority keys it trusts to
 * define elections — the whole set, replacing the one before. Entry 0 of an
 * election log (nothing else is admitted before it); a later one changes the
 * set while no election is open. A log record names no election.
 *
 * `sequence` is how many log records come before it (0 for entry 0): a
 * change names the state it changes, so one signed but held back is void
 * once another is admitted, and going back to an earlier set is a new
 * record, not a duplicate of the old one.
 */
export type LogBody = { origin: string; sequence: number; authorities: string[] };

/** A `log` record (see {@link LogBody}): the one envelope without `election`. */
export type LogRecord = { v: 1; type: 'log'; body: LogBody; signer: string; sig: string };

/** The signed envelope of a record of type T. */
export type Envelope<T extends RecordType, B> = {
  v: 1;
  type: T;
  election: string;
  body: B;
  signer: string;
  sig: string;
};

/** An `election` record (see {@link ElectionBody}). */
export type ElectionRecord = Envelope<'election', ElectionBody>;
/** A `districts` record (see {@link DistrictsBody}). */
export type DistrictsRecord = Envelope<'districts', DistrictsBody>;
/** A `credentials` record (see {@link CredentialsBody}). */
export type CredentialsRecord = Envelope<'credentials', CredentialsBody>;
/** A `phase` record (see {@link PhaseBody}). */
export type PhaseRecord = Envelope<'phase', PhaseBody>;
/** A `guardian` record (see {@link GuardianBody}). */
export type GuardianRecord = Envelope<'guardian', GuardianBody>;
/** A `shares` record (see {@link SharesBody}). */
export type SharesRecord = Envelope<'shares', SharesBody>;
/** An `accept` record (see {@link AcceptBody}). */
export type AcceptRecord = Envelope<'accept', AcceptBody>;
/** A `spoiled` record (see {@link SpoiledBody}). */
export type SpoiledRecord = Envelope<'spoiled', SpoiledBody>;
/** A `decryption` record (see {@link DecryptionBody}). */
export type DecryptionRecord = Envelope<'decryption', DecryptionBody>;
/** A `ballot` record (see {@link BallotBody}). */
export type BallotRecord = Envelope<'ballot', BallotBody>;
/** An `override` record (see {@link OverrideBody}). */
export type OverrideRecord = Envelope<'override', OverrideBody>;
/** A `report` record (see {@link ReportBody}). */
export type ReportRecord = Envelope<'report', ReportBody>;
/** A `tally` record (see {@link TallyBody}). */
export type TallyRecord = Envelope<'tally', TallyBody>;

/** Any record, discriminated on `type`. (Shadows the global `Record` utility type where imported.) */
export type Record =
  | LogRecord
  | ElectionRecord
  | DistrictsRecord
  | CredentialsRecord
  | PhaseRecord
  | GuardianRecord
  | SharesRecord
  | AcceptRecord
  | BallotRecord
  | SpoiledRecord
  | DecryptionRecord
  | OverrideRecord
  | ReportRecord
  | TallyRecord;

/** A record before signing: the envelope without `signer` and `sig` (distributes over the union). */
export type UnsignedRecord = Record extends infer R
  ? R extends unknown
    ? Omit<R, 'signer' | 'sig'>
    : never
  : never;

/** A record that passed {@link decodeRecord}. */
export type DecodedRecord = {
  /** The parsed envelope. */
  record: Record;
  /** The entry bytes, as given (not copied). */
  bytes: Uint8Array;
  /** RFC 9162 leaf hash of `bytes`: the record's identity in the tree (the ballot tracker). */
  leafHash: Hash;
};

/**
 * Codes of {@link RecordError}, with what each means. (How an API answers
 * them is the API's business: services/api/errors.ts.)
 *
 * | code | meaning |
 * |---|---|
 * | too_large | record over MAX_RECORD_SIZE, or a field over its LIMITS bound |
 * | non_canonical | valid JSON, but not the RFC 8785 canonical bytes |
 * | unknown_type | `type` is not one of RECORD_TYPES |
 * | bad_version | `v` is not 1 |
 * | unknown_field | a field the schema does not define |
 * | missing_field | a required field is absent |
 * | bad_type | wrong JSON type |
 * | bad_id | an id not matching ID_PATTERN |
 * | bad_key | a key that is not base64 of 32 bytes |
 * | bad_value | other bad values: enum, integer range, empty text, encoding, mismatched id |
 * | duplicate | an id or entry repeated within the record |
 * | bad_reference | a reference to a district the record does not define |
 * | bad_tree | districts not forming one tree (roots, cycles, depth) |
 *
 * Invalid UTF-8 or JSON raise MalformedError (`malformed`), and a signature
 * that does not verify SignatureError (`bad_signature`).
 */
export const RECORD_ERROR_CODES = [
  'too_large',
  'non_canonical',
  'unknown_type',
  'bad_version',
  'unknown_field',
  'missing_field',
  'bad_type',
  'bad_id',
  'bad_key',
  'bad_value',
  'duplicate',
  'bad_reference',
  'bad_tree',
] as const;

/** A {@link RecordError} code. */
export type RecordErrorCode = (typeof RECORD_ERROR_CODES)[number];

/** A record that is not a valid record by itself, whatever the log holds; `code` is stable (RECORD_ERROR_CODES). */
export class RecordError extends UrnaError {
  declare readonly code: RecordErrorCode;
  constructor(code: RecordErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Signs a record with the Ed25519 `seed` (32 bytes) and returns its entry
 * bytes: the canonical JSON of the envelope with `signer` set to the seed's
 * public key and `sig` over {@link RECORD_SIGNATURE_PREFIX} || JCS(envelope
 * without sig). The record is validated first, exactly as
 * {@link decodeRecord} would, so a signed record always decodes.
 *
 * Throws RangeError if the seed is not 32 bytes, RecordError if the record
 * is invalid (including `too_large` for one over MAX_RECORD_SIZE bytes).
 */
export function signRecord(unsigned: UnsignedRecord, seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new RangeError('signRecord: seed must be 32 bytes');
  const signer = toBase64(ed25519().publicKey(seed));
  const envelope = { ...(unsigned as object), signer } as { [key: string]: unknown };
  validateEnvelope(envelope, false);
  const sig = toBase64(ed25519().sign(signingMessage(envelope), seed));
  const bytes = canonicalBytes({ ...envelope, sig });
  if (bytes.length > MAX_RECORD_SIZE)
    throw new RecordError('too_large', `record is ${bytes.length} bytes, over ${MAX_RECORD_SIZE}`);
  return bytes;
}

/**
 * Decodes and fully checks one record: size, canonical encoding (RFC 8785),
 * schema, internal consistency, then the signature (last, being the most
 * expensive). A pure function of `bytes`, safe to run in a worker; the
 * returned `bytes` is the argument itself (not copied).
 *
 * Throws TypeError if `bytes` is not a Uint8Array; RecordError (see its
 * codes; `too_large` before anything is parsed, `non_canonical` for valid
 * but non-canonical JSON); MalformedError for invalid UTF-8 or JSON or a
 * value outside I-JSON; SignatureError if the signature does not verify.
 */
export function decodeRecord(bytes: Uint8Array): DecodedRecord {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeRecord: expected a Uint8Array');
  if (bytes.length > MAX_RECORD_SIZE)
    throw new RecordError('too_large', `record is ${bytes.length} bytes, over ${MAX_RECORD_SIZE}`);
  let value: unknown;
  try {
    value = parseCanonical(bytes);
  } catch (e) {
    if (e instanceof NonCanonicalError) throw new RecordError('non_canonical', e.message, { cause: e });
    throw e;
  }
  const record = validateEnvelope(value, true);
  if (!ed25519().verify(fromBase64(record.sig), signedBytes(bytes, record), fromBase64(record.signer)))
    throw new SignatureError(`${record.type} record: signature does not verify`);
  return { record, bytes, leafHash: leafHash(bytes) };
}

/**
 * The ballot tracker of a record: the lower-case hex of its RFC 9162 leaf
 * hash, SHA-256(0x00 || bytes). The voter computes it before submitting and
 * finds the ballot in the log by it. Does not check the record. Throws
 * TypeError if `bytes` is not a Uint8Array.
 */
export function ballotTracker(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('ballotTracker: expected a Uint8Array');
  return toHex(leafHash(bytes));
}

/**
 * The root-to-node paths of districts being defined (`defs`), given the
 * paths of districts already defined (`known`, returning undefined for an
 * unknown id). A path lists district ids from the root down to the district
 * itself; district `a` is in the subtree of `r` iff `r` is on `a`'s path.
 * Districts in `defs` win over `known` for their own ids.
 *
 * Returns the paths of `defs`' districts, or a RecordError: `bad_reference`
 * for a parent neither in `defs` nor known, `bad_tree` for a cycle or a path
 * longer than LIMITS.districtDepth. Does not check roots or duplicate ids.
 */
export function resolveDistrictPaths(
  defs: readonly DistrictDef[],
  known: (id: string) => readonly string[] | undefined,
): Map<string, string[]> | RecordError {
  const byId = new Map<string, DistrictDef>();
  for (const d of defs) byId.set(d.id, d);
  const paths = new Map<string, string[]>();
  for (const d of defs) {
    if (paths.has(d.id)) continue;
    // Walk up until a district whose path is known, or the root.
    const chain: string[] = [];
    const seen = new Set<string>();
    let base: readonly string[] = [];
    let cur: string | null = d.id;
    while (cur !== null) {
      const done = paths.get(cur);
      if (done) {
        base = done;
        break;
      }
      const def = byId.get(cur);
      if (!def) {
        const ext = known(cur);
        if (!ext)
          return new RecordError('bad_reference', `district ${chain.at(-1) ?? d.id}: unknown parent ${cur}`);
        base = ext;
        break;
      }
      if (seen.has(cur)) return new RecordError('bad_tree', `district ${cur}: cycle in the district tree`);
      if (seen.size >= LIMITS.districtDepth)
        return new RecordError('bad_tree', `district ${d.id}: deeper than ${LIMITS.districtDepth} levels`);
      seen.add(cur);
      chain.push(cur);
      cur = def.parent;
    }
    if (base.length + chain.length > LIMITS.districtDepth)
      return new RecordError('bad_tree', `district ${d.id}: deeper than ${LIMITS.districtDepth} levels`);
    let path = base.slice();
    for (let i = chain.length - 1; i >= 0; i--) {
      path = [...path, chain[i]!];
      paths.set(chain[i]!, path);
    }
  }
  return paths;
}

// ---- Signing message ----

const PREFIX_BYTES = utf8(RECORD_SIGNATURE_PREFIX);

function signingMessage(unsigned: object): Uint8Array {
  return concat(PREFIX_BYTES, canonicalBytes(unsigned));
}

/**
 * The signed message of a canonical, validated record, cut from its bytes
 * instead of re-serializing: members sort as body, election, sig, signer,
 * type, v (RFC 8785 §3.2.3), so the bytes end in
 * `"sig":S,"signer":K,"type":T,"v":1}` (ASCII only) and dropping `"sig":S,`
 * gives JCS(envelope without sig). Falls back to re-serializing should the
 * tail not be as expected.
 */
function signedBytes(bytes: Uint8Array, record: Record): Uint8Array {
  const sigMember = `"sig":"${record.sig}",`;
  const tail = utf8(`${sigMember}"signer":"${record.signer}","type":"${record.type}","v":1}`);
  const cut = bytes.length - tail.length;
  if (cut > 0 && equalBytes(bytes.subarray(cut), tail))
    return concat(PREFIX_BYTES, bytes.subarray(0, cut), tail.subarray(sigMember.length));
  const { sig: _sig, ...unsigned } = record;
  return signingMessage(unsigned);
}

// Canonical padded base64 (RFC 4648 §4) with zero trailing bits: exactly what
// bytes.ts fromBase64 accepts, checked without decoding.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** The decoded length of canonical padded base64 `s`, or -1 if fromBase64 would reject it. */
function base64Length(s: string): number {
  if (s.length % 4 !== 0 || !BASE64_CHARS.test(s)) return -1;
  // The last character before the padding carries no bits beyond the data.
  if (s.endsWith('==')) return 'AQgw'.includes(s[s.length - 3]!) ? (s.length / 4) * 3 - 2 : -1;
  if (s.endsWith('=')) return 'AEIMQUYcgkosw048'.includes(s[s.length - 2]!) ? (s.length / 4) * 3 - 1 : -1;
  return (s.length / 4) * 3;
}

// ---- Schema ----

type Obj = { [key: string]: unknown };

function fail(code: RecordErrorCode, path: string, message: string): never {
  throw new RecordError(code, `${path}: ${message}`);
}

/** A short printable form of a user-supplied name for messages. */
function show(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

function object(
  v: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('bad_type', path, 'expected an object');
  const o = v as Obj;
  for (const k of Object.keys(o))
    if (!required.includes(k) && !optional.includes(k))
      fail('unknown_field', path, `unknown field ${show(k)}`);
  for (const k of required) if (!Object.hasOwn(o, k)) fail('missing_field', path, `missing field "${k}"`);
  return o;
}

function array(v: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(v)) fail('bad_type', path, 'expected an array');
  if (v.length > max) fail('too_large', path, `more than ${max} entries`);
  if (v.length < min) fail('bad_value', path, `fewer than ${min} entries`);
  return v;
}

/** A map object (`{id: ...}`) with id keys, at most `max` entries. */
function idMap(v: unknown, path: string, min: number, max: number): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('bad_type', path, 'expected an object');
  const o = v as Obj;
  const keys = Object.keys(o);
  if (keys.length > max) fail('too_large', path, `more than ${max} entries`);
  if (keys.length < min) fail('bad_value', path, `fewer than ${min} entries`);
  for (const k of keys) if (!ID_PATTERN.test(k)) fail('bad_id', path, `invalid id ${show(k)}`);
  return o;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail('bad_type', path, 'expected a string');
  return v;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// With the u flag, only unpaired surrogates match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function text(v: unknown, path: string): string {
  const s = str(v, path);
  if (s.length > LIMITS.text) fail('too_large', path, `longer than ${LIMITS.text} characters`);
  if (s.length === 0) fail('bad_value', path, 'empty');
  if (CONTROL.test(s)) fail('bad_value', path, 'control character');
  if (LONE_SURROGATE.test(s)) fail('bad_value', path, 'unpaired surrogate');
  return s;
}

function id(v: unknown, path: string): string {
  const s = str(v, path);
  if (!ID_PATTERN.test(s)) fail('bad_id', path, `invalid id ${show(s)} (expected ${ID_PATTERN.source})`);
  return s;
}

const KEY_B64_LENGTH = 44; // base64 of 32 bytes

function key(v: unknown, path: string): string {
  const s = str(v, path);
  if (s.length !== KEY_B64_LENGTH || !decodes(s, 32))
    fail('bad_key', path, 'expected the base64 of a 32-byte Ed25519 public key');
  return s;
}

function decodes(s: string, length: number): boolean {
  return base64Length(s) === length;
}

function integer(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number') fail('bad_type', path, 'expected a number');
  if (!Number.isSafeInteger(v) || v < min || v > max)
    fail('bad_value', path, `expected an integer from ${min} to ${max}`);
  return v;
}

function count(v: unknown, path: string): number {
  return integer(v, path, 0, Number.MAX_SAFE_INTEGER);
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  const s = str(v, path);
  if (!(values as readonly string[]).includes(s))
    fail('bad_value', path, `expected one of ${values.map((x) => `"${x}"`).join(', ')}`);
  return s as T;
}

function unique(ids: readonly string[], path: string): void {
  const seen = new Set<string>();
  for (const i of ids) {
    if (seen.has(i)) fail('duplicate', path, `duplicate ${show(i)}`);
    seen.add(i);
  }
}

/**
 * Checks an envelope (with `sig` iff `withSig`) and returns it typed. Throws
 * RecordError. `value` is not modified.
 */
function validateEnvelope(value: unknown, withSig: boolean): Record {
  // A log record is the one envelope without `election`.
  const isLog = typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'log';
  const base = isLog ? ['v', 'type', 'body', 'signer'] : ['v', 'type', 'election', 'body', 'signer'];
  const fields = withSig ? [...base, 'sig'] : base;
  const e = object(value, 'record', fields);
  if (e.v !== RECORD_VERSION) fail('bad_version', 'record.v', `expected ${RECORD_VERSION}`);
  const type = str(e.type, 'record.type');
  if (!(RECORD_TYPES as readonly string[]).includes(type))
    fail('unknown_type', 'record.type', `unknown record type ${show(type)}`);
  const election = isLog ? '' : id(e.election, 'record.election');
  key(e.signer, 'record.signer');
  if (withSig) {
    const sig = str(e.sig, 'record.sig');
    if (sig.length !== 88 || !decodes(sig, 64))
      fail('bad_value', 'record.sig', 'expected the base64 of a 64-byte Ed25519 signature');
  }
  BODY_VALIDATORS[type as RecordType](e.body, election);
  return e as unknown as Record;
}

const BODY_VALIDATORS: { [T in RecordType]: (body: unknown, election: string) => void } = {
  log(body) {
    const b = object(body, 'body', ['origin', 'sequence', 'authorities']);
    const origin = str(b.origin, 'body.origin');
    if (!isValidKeyName(origin)) fail('bad_value', 'body.origin', 'expected a log origin (a note key name)');
    count(b.sequence, 'body.sequence');
    const keys = array(b.authorities, 'body.authorities', 1, LIMITS.authorities).map((k, i) =>
      key(k, `body.authorities[${i}]`),
    );
    unique(keys, 'body.authorities');
  },
  election: validateElection,
  districts: validateDistricts,
  credentials(body) {
    const b = object(body, 'body', ['credentials']);
    const list = array(b.credentials, 'body.credentials', 1, LIMITS.credentialsPerRecord);
    list.forEach((c, i) => {
      const p = `body.credentials[${i}]`;
      const o = object(c, p, ['key', 'district'], ['weight']);
      key(o.key, `${p}.key`);
      id(o.district, `${p}.district`);
      if (Object.hasOwn(o, 'weight')) integer(o.weight, `${p}.weight`, 1, LIMITS.weight);
    });
  },
  phase(body) {
    const b = object(body, 'body', ['phase']);
    oneOf<Phase>(b.phase, 'body.phase', ['open', 'close', 'final']);
  },
  guardian(body) {
    const b = object(body, 'body', ['index', 'commitments', 'communication']);
    integer(b.index, 'body.index', 1, LIMITS.guardians);
    array(b.commitments, 'body.commitments', 1, LIMITS.guardians).forEach((c, i) =>
      commitment(c, `body.commitments[${i}]`),
    );
    commitment(b.communication, 'body.communication');
  },
  shares(body) {
    const b = object(body, 'body', ['index', 'shares']);
    const from = integer(b.index, 'body.index', 1, LIMITS.guardians);
    let last = 0;
    array(b.shares, 'body.shares', 1, LIMITS.guardians - 1).forEach((x, i) => {
      const p = `body.shares[${i}]`;
      const o = object(x, p, ['to', 'alpha', 'ciphertext', 'mac']);
      const to = integer(o.to, `${p}.to`, 1, LIMITS.guardians);
      if (to === from) fail('bad_value', `${p}.to`, 'a guardian sends no share to itself');
      if (to <= last) fail('bad_value', `${p}.to`, 'shares must be in ascending order of `to`');
      last = to;
      for (const k of ['alpha', 'ciphertext', 'mac']) bytes32(o[k], `${p}.${k}`);
    });
  },
  accept(body) {
    const b = object(body, 'body', ['index', 'key']);
    integer(b.index, 'body.index', 1, LIMITS.guardians);
    bytes32(b.key, 'body.key');
  },
  ballot(body) {
    const b = object(body, 'body', ['contests'], ['ciphertext', 'district', 'encrypted']);
    const contests = array(b.contests, 'body.contests', 1, LIMITS.contests).map((c, i) =>
      id(c, `body.contests[${i}]`),
    );
    unique(contests, 'body.contests');
    if (Object.hasOwn(b, 'encrypted') || Object.hasOwn(b, 'district')) {
      object(b, 'body', ['contests', 'district', 'encrypted']);
      id(b.district, 'body.district');
      const encrypted = array(b.encrypted, 'body.encrypted', contests.length, contests.length);
      encrypted.forEach((c, i) => encryptedContest(c, `body.encrypted[${i}]`, contests[i]!));
      return;
    }
    if (!Object.hasOwn(b, 'ciphertext')) fail('missing_field', 'body', 'missing field "ciphertext"');
    const ct = str(b.ciphertext, 'body.ciphertext');
    // Check the encoded length before decoding anything.
    if (ct.length > 4 * Math.ceil(LIMITS.ciphertext / 3))
      fail('too_large', 'body.ciphertext', `over ${LIMITS.ciphertext} bytes`);
    // Validated without decoding (the hot path): same acceptance as fromBase64.
    const size = base64Length(ct);
    if (size < 0) fail('bad_value', 'body.ciphertext', 'expected canonical padded base64');
    if (size > LIMITS.ciphertext) fail('too_large', 'body.ciphertext', `over ${LIMITS.ciphertext} bytes`);
    if (size === 0) fail('bad_value', 'body.ciphertext', 'empty');
  },
  spoiled(body, election) {
    const b = object(body, 'body', ['ballot', 'sig', 'openings']);
    const ballot = object(b.ballot, 'body.ballot', ['contests', 'district', 'encrypted']);
    BODY_VALIDATORS.ballot(ballot, election);
    const sig = str(b.sig, 'body.sig');
    if (sig.length !== 88 || !decodes(sig, 64))
      fail('bad_value', 'body.sig', 'expected the base64 of a 64-byte Ed25519 signature');
    const contests = ballot.contests as string[];
    array(b.openings, 'body.openings', contests.length, contests.length).forEach((x, i) => {
      const p = `body.openings[${i}]`;
      const o = object(x, p, ['contest', 'nonces', 'choices']);
      if (id(o.contest, `${p}.contest`) !== contests[i])
        fail('bad_value', `${p}.contest`, `expected contest ${show(contests[i]!)}, as the ballot's order`);
      array(o.nonces, `${p}.nonces`, 1, LIMITS.options).forEach((n, j) => bytes32(n, `${p}.nonces[${j}]`));
      countMap(o.choices, `${p}.choices`, LIMITS.options);
    });
  },
  decryption(body) {
    const b = object(body, 'body', ['index', 'district', 'changed', 'contests']);
    integer(b.index, 'body.index', 1, LIMITS.guardians);
    id(b.district, 'body.district');
    count(b.changed, 'body.changed');
    const contests = idMap(b.contests, 'body.contests', 1, LIMITS.contests);
    for (const [c, list] of Object.entries(contests))
      array(list, `body.contests.${c}`, 1, LIMITS.options).forEach((x, i) => {
        const p = `body.contests.${c}[${i}]`;
        const o = object(x, p, ['share', 'challenge', 'response']);
        for (const k of ['share', 'challenge', 'response']) bytes32(o[k], `${p}.${k}`);
      });
  },
  override(body) {
    const b = object(body, 'body', ['credential', 'district']);
    key(b.credential, 'body.credential');
    id(b.district, 'body.district');
  },
  report(body) {
    const b = object(body, 'body', [
      'district',
      'contest',
      'stage',
      'counts',
      'blank',
      'invalid',
      'protocol',
    ]);
    id(b.district, 'body.district');
    id(b.contest, 'body.contest');
    oneOf<Stage>(b.stage, 'body.stage', ['preliminary', 'final']);
    const counts = idMap(b.counts, 'body.counts', 1, LIMITS.options);
    for (const [k, n] of Object.entries(counts)) count(n, `body.counts.${k}`);
    count(b.blank, 'body.blank');
    count(b.invalid, 'body.invalid');
    const protocol = str(b.protocol, 'body.protocol');
    if (!/^[0-9a-f]{64}$/.test(protocol))
      fail('bad_value', 'body.protocol', 'expected the lower-case hex of a SHA-256 hash');
  },
  tally(body) {
    const b = object(body, 'body', ['size', 'root', 'seed', 'phase', 'contests']);
    integer(b.size, 'body.size', 1, Number.MAX_SAFE_INTEGER);
    rootHash(b.root, 'body.root');
    const seed = object(b.seed, 'body.seed', ['size', 'root']);
    integer(seed.size, 'body.seed.size', 1, Number.MAX_SAFE_INTEGER);
    rootHash(seed.root, 'body.seed.root');
    oneOf(b.phase, 'body.phase', ['close', 'final'] as const);
    const contests = idMap(b.contests, 'body.contests', 1, LIMITS.contests);
    for (const [c, t] of Object.entries(contests)) validateContestTally(t, `body.contests.${c}`);
  },
};

/** Canonical base64 of exactly 32 bytes (a group element, scalar, hash or MAC). */
function bytes32(v: unknown, path: string): string {
  const s = str(v, path);
  if (s.length !== 44 || !decodes(s, 32)) fail('bad_value', path, 'expected the base64 of 32 bytes');
  return s;
}

function commitment(v: unknown, path: string): void {
  const o = object(v, path, ['key', 'challenge', 'response']);
  for (const k of ['key', 'challenge', 'response']) bytes32(o[k], `${path}.${k}`);
}

/** A range proof's shape: R+1 challenges and responses (R from 1 to LIMITS.range) and 2(R+1) commitments. */
function rangeProof(v: unknown, path: string): void {
  const o = object(v, path, ['commitments', 'challenges', 'responses']);
  const challenges = array(o.challenges, `${path}.challenges`, 2, LIMITS.range + 1);
  const responses = array(o.responses, `${path}.responses`, challenges.length, challenges.length);
  const commitments = array(
    o.commitments,
    `${path}.commitments`,
    2 * challenges.length,
    2 * challenges.length,
  );
  challenges.forEach((x, i) => bytes32(x, `${path}.challenges[${i}]`));
  responses.forEach((x, i) => bytes32(x, `${path}.responses[${i}]`));
  commitments.forEach((x, i) => bytes32(x, `${path}.commitments[${i}]`));
}

/**
 * An encrypted contest's shape (the election's options, their order and
 * whether the proofs verify are the rules'): `contest` as listed, unique
 * option ids, every element and scalar base64 of 32 bytes.
 */
function encryptedContest(v: unknown, path: string, contest: string): void {
  const o = object(v, path, ['contest', 'options', 'sumProof']);
  if (id(o.contest, `${path}.contest`) !== contest)
    fail('bad_value', `${path}.contest`, `expected ${show(contest)}, as body.contests lists it`);
  const options = array(o.options, `${path}.options`, 1, LIMITS.options).map((x, i) => {
    const q = `${path}.options[${i}]`;
    const opt = object(x, q, ['option', 'alpha', 'beta', 'proof']);
    bytes32(opt.alpha, `${q}.alpha`);
    bytes32(opt.beta, `${q}.beta`);
    rangeProof(opt.proof, `${q}.proof`);
    return id(opt.option, `${q}.option`);
  });
  unique(options, `${path}.options`);
  rangeProof(o.sumProof, `${path}.sumProof`);
}

function rootHash(v: unknown, path: string): void {
  const root = str(v, path);
  if (root.length !== 44 || !decodes(root, 32))
    fail('bad_value', path, 'expected the base64 of a 32-byte hash');
}

function countMap(v: unknown, path: string, max: number): Obj {
  const o = idMap(v, path, 0, max);
  for (const [k, n] of Object.entries(o)) count(n, `${path}.${k}`);
  return o;
}

function idList(v: unknown, path: string, max: number): void {
  const list = array(v, path, 0, max).map((x, i) => id(x, `${path}[${i}]`));
  unique(list, path);
}

function validateCountSum(v: unknown, path: string): void {
  const o = object(v, path, ['votes', 'blank', 'invalid', 'districts', 'electorate']);
  countMap(o.votes, `${path}.votes`, LIMITS.options);
  for (const k of ['blank', 'invalid', 'districts', 'electorate']) count(o[k], `${path}.${k}`);
}

function validateContestTally(v: unknown, path: string): void {
  const o = object(v, path, [
    'preliminary',
    'final',
    'counted',
    'eballots',
    'polling',
    'electorate',
    'provisional',
    'seats',
  ]);
  for (const k of ['preliminary', 'final', 'counted']) validateCountSum(o[k], `${path}.${k}`);
  const e = object(o.eballots, `${path}.eballots`, ['ballots', 'weight'], ['decrypted']);
  count(e.ballots, `${path}.eballots.ballots`);
  count(e.weight, `${path}.eballots.weight`);
  if (Object.hasOwn(e, 'decrypted')) {
    const d = object(e.decrypted, `${path}.eballots.decrypted`, ['ballots', 'weight', 'districts', 'votes']);
    for (const k of ['ballots', 'weight', 'districts']) count(d[k], `${path}.eballots.decrypted.${k}`);
    countMap(d.votes, `${path}.eballots.decrypted.votes`, LIMITS.options);
  }
  count(o.polling, `${path}.polling`);
  count(o.electorate, `${path}.electorate`);
  if (typeof o.provisional !== 'boolean') fail('bad_type', `${path}.provisional`, 'expected a boolean');
  const p = `${path}.seats`;
  const s = object(
    o.seats,
    p,
    ['seats', 'qualified', 'unallocated', 'lots'],
    ['fixed', 'adjustment', 'excluded'],
  );
  countMap(s.seats, `${p}.seats`, LIMITS.options);
  idList(s.qualified, `${p}.qualified`, LIMITS.options);
  count(s.unallocated, `${p}.unallocated`);
  if (Object.hasOwn(s, 'fixed')) {
    const f = idMap(s.fixed, `${p}.fixed`, 1, LIMITS.constituencies);
    for (const [d, m] of Object.entries(f)) countMap(m, `${p}.fixed.${d}`, LIMITS.options);
  }
  if (Object.hasOwn(s, 'adjustment')) countMap(s.adjustment, `${p}.adjustment`, LIMITS.options);
  if (Object.hasOwn(s, 'excluded')) idList(s.excluded, `${p}.excluded`, LIMITS.options);
  array(s.lots, `${p}.lots`, 0, LIMITS.seats).forEach((lot, i) => {
    const q = `${p}.lots[${i}]`;
    const l = object(lot, q, ['scope', 'tied', 'winner']);
    const scope = str(l.scope, `${q}.scope`);
    if (scope.length === 0 || scope.length > 2 * 64 + 1)
      fail('bad_value', `${q}.scope`, 'expected CONTEST[/DISTRICT]');
    idList(l.tied, `${q}.tied`, LIMITS.options);
    id(l.winner, `${q}.winner`);
  });
}

function validateDistrictDef(v: unknown, path: string): DistrictDef {
  const o = object(v, path, ['id', 'name', 'parent', 'electorate']);
  id(o.id, `${path}.id`);
  text(o.name, `${path}.name`);
  if (o.parent !== null) id(o.parent, `${path}.parent`);
  count(o.electorate, `${path}.electorate`);
  return o as DistrictDef;
}

/** The counting methods a contest may name (ledger/seats.ts). */
export const METHOD_NAMES = ['plurality', 'dhondt', 'sainte-lague'] as const satisfies ReadonlyArray<
  Method['name']
>;

/** A decimal with at most 4 places in [min, max) (max excluded unless `maxIncluded`), stated exactly. */
function decimal(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number') fail('bad_type', path, 'expected a number');
  try {
    decimalRatio(v);
  } catch {
    fail('bad_value', path, 'expected a decimal with at most 4 places');
  }
  if (!(v >= min && v < max)) fail('bad_value', path, `expected at least ${min} and below ${max}`);
  return v;
}

/**
 * Checks a contest's `method` (DESIGN.md "Counting"): the fields its name
 * allows, each stated exactly, so no two readings of the record differ.
 * `paths` are the election record's district paths: constituencies are
 * districts of the election record itself, none inside another.
 */
function validateMethod(
  v: unknown,
  path: string,
  seats: number,
  options: number,
  paths: Map<string, string[]>,
): void {
  const o = object(
    v,
    path,
    ['name'],
    ['firstDivisor', 'threshold', 'constituencyThreshold', 'constituencies', 'ties'],
  );
  const name = oneOf(o.name, `${path}.name`, METHOD_NAMES);
  if (Object.hasOwn(o, 'ties')) oneOf(o.ties, `${path}.ties`, ['votes', 'lot'] as const);
  if (name === 'plurality') {
    for (const k of ['firstDivisor', 'threshold', 'constituencyThreshold', 'constituencies'])
      if (Object.hasOwn(o, k)) fail('bad_value', `${path}.${k}`, 'not a field of plurality');
    if (seats > options)
      fail(
        'bad_value',
        `${path}`,
        `plurality elects at most one per option (${seats} seats, ${options} options)`,
      );
    return;
  }
  if (Object.hasOwn(o, 'firstDivisor')) {
    if (name !== 'sainte-lague')
      fail('bad_value', `${path}.firstDivisor`, 'only Sainte-Laguë has a first divisor');
    decimal(o.firstDivisor, `${path}.firstDivisor`, 1, 3);
  }
  if (Object.hasOwn(o, 'threshold')) {
    decimal(o.threshold, `${path}.threshold`, 0, 1);
    if (o.threshold === 0) fail('bad_value', `${path}.threshold`, 'expected above 0 (omit it for none)');
  }
  if (Object.hasOwn(o, 'constituencyThreshold')) {
    if (!Object.hasOwn(o, 'constituencies'))
      fail('bad_value', `${path}.constituencyThreshold`, 'needs constituencies');
    decimal(o.constituencyThreshold, `${path}.constituencyThreshold`, 0, 1);
    if (o.constituencyThreshold === 0)
      fail('bad_value', `${path}.constituencyThreshold`, 'expected above 0 (omit it for none)');
  }
  if (Object.hasOwn(o, 'constituencies')) {
    const c = idMap(o.constituencies, `${path}.constituencies`, 1, LIMITS.constituencies);
    let fixed = 0;
    for (const [d, n] of Object.entries(c)) {
      fixed += integer(n, `${path}.constituencies.${d}`, 0, LIMITS.seats);
      const p = paths.get(d);
      if (!p)
        fail(
          'bad_reference',
          `${path}.constituencies`,
          `${show(d)} is not a district of the election record`,
        );
      for (const up of p.slice(0, -1))
        if (Object.hasOwn(c, up))
          fail('bad_tree', `${path}.constituencies`, `${show(d)} lies inside constituency ${show(up)}`);
    }
    if (fixed > seats)
      fail('bad_value', `${path}.constituencies`, `${fixed} fixed seats, more than the contest's ${seats}`);
  }
}

function validateElection(body: unknown, election: string): void {
  const b = object(body, 'body', ['id', 'title', 'contests', 'districts', 'roles', 'revoting']);
  if (id(b.id, 'body.id') !== election) fail('bad_value', 'body.id', 'must equal the envelope election');
  text(b.title, 'body.title');
  const districts = array(b.districts, 'body.districts', 1, LIMITS.districtsPerRecord).map((d, i) =>
    validateDistrictDef(d, `body.districts[${i}]`),
  );
  unique(
    districts.map((d) => d.id),
    'body.districts',
  );
  const roots = districts.filter((d) => d.parent === null);
  if (roots.length !== 1)
    fail('bad_tree', 'body.districts', `expected exactly one root, found ${roots.length}`);
  const paths = resolveDistrictPaths(districts, () => undefined);
  if (paths instanceof RecordError) throw new RecordError(paths.code, `body.districts: ${paths.message}`);

  const contests = array(b.contests, 'body.contests', 1, LIMITS.contests).map((c, i) => {
    const p = `body.contests[${i}]`;
    const o = object(c, p, ['id', 'title', 'options', 'seats', 'method']);
    const cid = id(o.id, `${p}.id`);
    text(o.title, `${p}.title`);
    const options = array(o.options, `${p}.options`, 1, LIMITS.options).map((opt, j) => {
      const q = `${p}.options[${j}]`;
      const oo = object(opt, q, ['id', 'title']);
      text(oo.title, `${q}.title`);
      return id(oo.id, `${q}.id`);
    });
    unique(options, `${p}.options`);
    const seats = integer(o.seats, `${p}.seats`, 1, LIMITS.seats);
    validateMethod(o.method, `${p}.method`, seats, options.length, paths);
    return cid;
  });
  unique(contests, 'body.contests');

  const roles = object(b.roles, 'body.roles', ['registrar', 'reporters', 'counter'], ['guardians']);
  key(roles.registrar, 'body.roles.registrar');
  key(roles.counter, 'body.roles.counter');
  if (Object.hasOwn(roles, 'guardians')) {
    const g = object(roles.guardians, 'body.roles.guardians', ['keys', 'quorum']);
    const keys = array(g.keys, 'body.roles.guardians.keys', 1, LIMITS.guardians).map((k, i) =>
      key(k, `body.roles.guardians.keys[${i}]`),
    );
    unique(keys, 'body.roles.guardians.keys');
    integer(g.quorum, 'body.roles.guardians.quorum', 1, keys.length);
  }
  const reporters = array(roles.reporters, 'body.roles.reporters', 0, LIMITS.reporters).map((r, i) => {
    const p = `body.roles.reporters[${i}]`;
    const o = object(r, p, ['key', 'district']);
    const k = key(o.key, `${p}.key`);
    const d = id(o.district, `${p}.district`);
    if (!paths.has(d)) fail('bad_reference', `${p}.district`, `unknown district ${show(d)}`);
    return `${k} ${d}`;
  });
  unique(reporters, 'body.roles.reporters');
  oneOf<Revoting>(b.revoting, 'body.revoting', ['last', 'none']);
}

function validateDistricts(body: unknown): void {
  const b = object(body, 'body', ['districts']);
  const districts = array(b.districts, 'body.districts', 1, LIMITS.districtsPerRecord).map((d, i) =>
    validateDistrictDef(d, `body.districts[${i}]`),
  );
  unique(
    districts.map((d) => d.id),
    'body.districts',
  );
  const root = districts.find((d) => d.parent === null);
  if (root)
    fail(
      'bad_tree',
      'body.districts',
      `district ${show(root.id)}: only the election record defines the root`,
    );
}
