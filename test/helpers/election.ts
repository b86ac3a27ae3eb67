/**
 * Test fixtures for election records and rules: deterministic keys, a small
 * election (authority, registrar, three reporters over a district tree,
 * counter, voters with credentials), builders of signed records, and a
 * miniature in-memory log that admits records with the rules the way the
 * sequencer does (decode, read the declared state keys, apply, append).
 *
 * District tree (electorates in brackets):
 *
 *     se [1000]
 *     ├── north [500]  ── north-1 [200], north-2 [300]
 *     └── south [500]  ── south-1 [250], south-2 [250]
 */
import { concat, toBase64, toHex, utf8 } from '../../ledger/bytes.js';
import { ed25519 } from '../../ledger/ed25519.js';
import { hash, type Hash } from '../../ledger/hash.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { MemoryHashStore, treeHash } from '../../ledger/merkle.js';
import {
  decodeRecord,
  RECORD_SIGNATURE_PREFIX,
  signRecord,
  type ElectionBody,
  type Phase,
  type Revoting,
  type Stage,
  type TallyBody,
  type UnsignedRecord,
} from '../../ledger/record.js';
import {
  applyRecord,
  MemoryState,
  RuleError,
  stateKey,
  stateKeys,
  tallyOfState,
  type ElectionState,
  type Rejection,
  type RulesContext,
  type StateReader,
} from '../../ledger/rules.js';
import { UrnaError } from '../../ledger/errors.js';
import { keyCeremony } from './encrypted-election.js';

/** An Ed25519 key pair: the 32-byte seed and the base64 public key used in records. */
export type TestKey = { seed: Uint8Array; key: string };

/** A deterministic key pair derived from `label` (tests are reproducible). */
export function testKey(label: string): TestKey {
  const seed = hash(utf8(`urna test key ${label}`));
  return { seed, key: toBase64(ed25519().publicKey(seed)) };
}

/**
 * The log every fixture's election is on: its key (the checkpoints' and the
 * log records' signer) and origin. One log, like a real one holding several
 * elections.
 */
export const TEST_LOG = { signer: testKey('log'), origin: 'urna.example/log' } as const;

/**
 * A `log` record (DESIGN.md "Records"): the authorities the log trusts,
 * the `sequence`-th log record (default 0, entry 0), signed by `by`
 * (default: the test log's key) for `origin` (default: the test log's).
 */
export function logRecord(
  authorities: readonly string[],
  opts: { sequence?: number; by?: TestKey; origin?: string } = {},
): Uint8Array {
  const body = {
    origin: opts.origin ?? TEST_LOG.origin,
    sequence: opts.sequence ?? 0,
    authorities: [...authorities],
  };
  return signRecord({ v: 1, type: 'log', body }, (opts.by ?? TEST_LOG.signer).seed);
}

/** A voter: a credential key pair and its home district. */
export type Voter = TestKey & { district: string };

/** The leaf districts of the fixture tree, in the order voters are assigned to them. */
export const LEAF_DISTRICTS = ['north-1', 'north-2', 'south-1', 'south-2'] as const;

/**
 * Signs any envelope-like object without validating it (to build invalid
 * records): `sig` over `prefix || JCS(envelope + signer)`. `signer` defaults
 * to the seed's public key; pass `envelope.signer` to lie about it.
 */
export function signUnchecked(
  envelope: { [key: string]: unknown },
  seed: Uint8Array,
  prefix = RECORD_SIGNATURE_PREFIX,
): Uint8Array {
  const unsigned = { signer: toBase64(ed25519().publicKey(seed)), ...envelope };
  const sig = ed25519().sign(concat(utf8(prefix), canonicalBytes(unsigned)), seed);
  return canonicalBytes({ ...unsigned, sig: toBase64(sig) });
}

/** A SHA-256 protocol hash (hex) for a label. */
export function protocolHash(label: string): string {
  return toHex(hash(utf8(label)));
}

/** Options of {@link buildElection}. */
export type ElectionOptions = {
  id?: string;
  voters?: number;
  revoting?: Revoting;
  label?: string;
  /** An encrypted election: this many guardians (keys derived from the label), `quorum` of whom decrypt. */
  guardians?: { count: number; quorum: number };
};

/** A small election and builders of its signed records. */
export type ElectionFixture = ReturnType<typeof buildElection>;

/**
 * A small election `id` (default `se-2026`) with two contests (`riksdag`:
 * Sainte-Laguë, options s/m/sd/c; `referendum`: plurality, yes/no), the
 * district tree above, and `voters` voters (default 8) spread round-robin
 * over the leaf districts. Keys derive from `label` (default: the id).
 */
export function buildElection(options: ElectionOptions = {}) {
  const id = options.id ?? 'se-2026';
  const label = options.label ?? id;
  const k = (name: string) => testKey(`${label}/${name}`);
  const authority = k('authority');
  const registrar = k('registrar');
  const counter = k('counter');
  const reporters = { national: k('reporter-se'), north: k('reporter-north'), south: k('reporter-south') };
  const outsider = k('outsider');
  const guardianKeys = Array.from({ length: options.guardians?.count ?? 0 }, (_, i) =>
    k(`guardian-${i + 1}`),
  );
  const voters: Voter[] = Array.from({ length: options.voters ?? 8 }, (_, i) => ({
    ...k(`voter-${i}`),
    district: LEAF_DISTRICTS[i % LEAF_DISTRICTS.length]!,
  }));
  const body: ElectionBody = {
    id,
    title: 'Val till riksdagen 2026',
    contests: [
      {
        id: 'riksdag',
        title: 'Riksdag',
        options: [
          { id: 's', title: 'Socialdemokraterna' },
          { id: 'm', title: 'Moderaterna' },
          { id: 'sd', title: 'Sverigedemokraterna' },
          { id: 'c', title: 'Centerpartiet' },
        ],
        seats: 349,
        method: { name: 'sainte-lague', firstDivisor: 1.2, threshold: 0.04 },
      },
      {
        id: 'referendum',
        title: 'Folkomröstning',
        options: [
          { id: 'yes', title: 'Ja' },
          { id: 'no', title: 'Nej' },
        ],
        seats: 1,
        method: { name: 'plurality' },
      },
    ],
    districts: [
      { id: 'se', name: 'Sverige', parent: null, electorate: 1000 },
      { id: 'north', name: 'Norr', parent: 'se', electorate: 500 },
      { id: 'south', name: 'Söder', parent: 'se', electorate: 500 },
      { id: 'north-1', name: 'Norr 1', parent: 'north', electorate: 200 },
      { id: 'north-2', name: 'Norr 2', parent: 'north', electorate: 300 },
      { id: 'south-1', name: 'Söder 1', parent: 'south', electorate: 250 },
      { id: 'south-2', name: 'Söder 2', parent: 'south', electorate: 250 },
    ],
    roles: {
      registrar: registrar.key,
      counter: counter.key,
      reporters: [
        { key: reporters.national.key, district: 'se' },
        { key: reporters.north.key, district: 'north' },
        { key: reporters.south.key, district: 'south' },
      ],
      ...(options.guardians
        ? { guardians: { keys: guardianKeys.map((g) => g.key), quorum: options.guardians.quorum } }
        : {}),
    },
    revoting: options.revoting ?? 'last',
  };
  let ballotNonce = 0;

  const sign = (unsigned: UnsignedRecord, by: TestKey) => signRecord(unsigned, by.seed);

  return {
    id,
    authority,
    registrar,
    counter,
    reporters,
    outsider,
    voters,
    /** The guardians' signing keys (guardian i is `guardianKeys[i-1]`); none without `guardians`. */
    guardianKeys,
    body,
    /** The authorities the fixture's log trusts: this election's authority. */
    authorities: [authority.key],
    /** The `election` record (body overridable). */
    election(change: Partial<ElectionBody> = {}, by: TestKey = authority): Uint8Array {
      const b = { ...body, ...change };
      return sign({ v: 1, type: 'election', election: b.id, body: b }, by);
    },
    /** A `districts` record adding districts under existing ones. */
    districts(
      districts: { id: string; parent: string; electorate?: number; name?: string }[],
      by: TestKey = authority,
    ): Uint8Array {
      return sign(
        {
          v: 1,
          type: 'districts',
          election: id,
          body: {
            districts: districts.map((d) => ({
              id: d.id,
              name: d.name ?? d.id,
              parent: d.parent,
              electorate: d.electorate ?? 100,
            })),
          },
        },
        by,
      );
    },
    /** A `credentials` record for `list` (default: all voters). */
    credentials(list: readonly Voter[] = voters, by: TestKey = registrar): Uint8Array {
      return sign(
        {
          v: 1,
          type: 'credentials',
          election: id,
          body: { credentials: list.map((v) => ({ key: v.key, district: v.district })) },
        },
        by,
      );
    },
    /** A `phase` record. */
    phase(phase: Phase, by: TestKey = authority): Uint8Array {
      return sign({ v: 1, type: 'phase', election: id, body: { phase } }, by);
    },
    /** A `ballot` record by `voter` with a fresh ciphertext (each call differs). */
    ballot(
      voter: TestKey,
      opts: { contests?: string[]; ciphertext?: Uint8Array; election?: string } = {},
    ): Uint8Array {
      const ciphertext = opts.ciphertext ?? hash(utf8(`${voter.key} ballot ${ballotNonce++}`));
      return sign(
        {
          v: 1,
          type: 'ballot',
          election: opts.election ?? id,
          body: { contests: opts.contests ?? ['riksdag', 'referendum'], ciphertext: toBase64(ciphertext) },
        },
        voter,
      );
    },
    /** An `override` of `voter`'s credential, by default by the reporter of its half of the tree. */
    override(voter: Voter, by?: TestKey, district: string = voter.district): Uint8Array {
      const reporter = by ?? (voter.district.startsWith('north') ? reporters.north : reporters.south);
      return sign(
        { v: 1, type: 'override', election: id, body: { credential: voter.key, district } },
        reporter,
      );
    },
    /** A `report` record; `counts` default to zero for every option of the contest. */
    report(
      district: string,
      contest: string,
      stage: Stage,
      counts?: { [option: string]: number },
      opts: { blank?: number; invalid?: number; protocol?: string; by?: TestKey } = {},
    ): Uint8Array {
      const c = body.contests.find((x) => x.id === contest);
      const full = counts ?? Object.fromEntries((c?.options ?? []).map((o) => [o.id, 0]));
      return sign(
        {
          v: 1,
          type: 'report',
          election: id,
          body: {
            district,
            contest,
            stage,
            counts: full,
            blank: opts.blank ?? 0,
            invalid: opts.invalid ?? 0,
            protocol: opts.protocol ?? protocolHash(`${district}/${contest}/${stage}`),
          },
        },
        opts.by ?? reporters.national,
      );
    },
    /**
     * A `tally` record: by default exactly what counting `log`'s first `size`
     * records gives (size: the whole log), which `edit` may then change.
     */
    tally(
      log: RecordLog,
      opts: { size?: number; root?: Hash; edit?: (body: TallyBody) => void; by?: TestKey } = {},
    ): Uint8Array {
      const body = countedTally(log, id, opts.size ?? log.size);
      if (opts.root) body.root = toBase64(opts.root);
      opts.edit?.(body);
      return sign({ v: 1, type: 'tally', election: id, body }, opts.by ?? counter);
    },
  };
}

/**
 * What a tally of `election` over `log`'s first `size` records must say
 * (ledger/tally.ts), from the log's current state: right when nothing that
 * changes the count came after `size`. Before voting closed, a seed of size
 * 1 stands in (the rules refuse such a tally anyway).
 */
export function countedTally(log: RecordLog, election: string, size: number): TallyBody {
  const state = log.state.read(stateKey.election(election)) as ElectionState;
  const close = state.phases.close;
  const seedSize = close === undefined ? 1 : close + 1;
  const point = {
    size,
    root: toBase64(log.ctx.rootAt(size)),
    seed: { size: seedSize, root: toBase64(log.ctx.rootAt(seedSize)) },
  };
  const closed =
    state.phase === 'close' || state.phase === 'final' ? state : { ...state, phase: 'close' as const };
  return tallyOfState(log.state.read, closed, point);
}

/** The result of {@link RecordLog.submit}. */
export type Admission = { index: number } | { error: Rejection };

/**
 * A miniature log with the sequencer's admission path, in memory: decode,
 * read exactly the keys `stateKeys` declares (any other read throws, like Go
 * tlog's test store panicking), apply, and on success append the entry to the
 * records and the Merkle tree. `ctx.rootAt` is the tree's root at a size.
 */
export class RecordLog {
  readonly records: Uint8Array[] = [];
  readonly state = new MemoryState();
  readonly tree = new MemoryHashStore();
  readonly ctx: RulesContext;

  /**
   * The test log ({@link TEST_LOG}); it begins with a log record trusting
   * `authorities` (entry 0, as `urna serve` writes it) unless `genesis` is false.
   */
  constructor(authorities: readonly string[], opts: { genesis?: boolean } = {}) {
    this.ctx = {
      logKey: TEST_LOG.signer.key,
      origin: TEST_LOG.origin,
      rootAt: (size) => treeHash(size, this.tree),
    };
    if (opts.genesis !== false) this.accept(logRecord(authorities));
  }

  /** Number of records. */
  get size(): number {
    return this.records.length;
  }

  /** Admits `bytes` at the next index, or returns why not (changing nothing). */
  submit(bytes: Uint8Array): Admission {
    const index = this.records.length;
    let decoded;
    try {
      decoded = decodeRecord(bytes);
    } catch (e) {
      if (e instanceof UrnaError) return { error: e as Rejection };
      throw e;
    }
    const outcome = applyRecord(checkedReader(this.state.read, stateKeys(decoded)), decoded, index, this.ctx);
    if (outcome instanceof RuleError) return { error: outcome };
    this.state.apply(outcome);
    this.records.push(bytes);
    this.tree.append(decoded.leafHash);
    return { index };
  }

  /** Submits each record and throws if any is rejected; returns their indexes. */
  accept(...records: Uint8Array[]): number[] {
    return records.map((bytes) => {
      const result = this.submit(bytes);
      if ('error' in result)
        throw new Error(`record rejected: ${result.error.code}: ${result.error.message}`);
      return result.index;
    });
  }
}

/** A reader that throws if asked for a key not in `keys` (the stateKeys contract). */
export function checkedReader(read: StateReader, keys: readonly string[]): StateReader {
  const allowed = new Set(keys);
  return (key) => {
    if (!allowed.has(key)) throw new Error(`rules read undeclared state key ${key}`);
    return read(key);
  };
}

/**
 * A log holding `fixture`'s election, credentials for all its voters (in
 * records of at most 400), and the phases up to `phase`.
 */
export function logAt(fixture: ElectionFixture, phase: 'setup' | Phase = 'setup'): RecordLog {
  const log = new RecordLog(fixture.authorities);
  log.accept(fixture.election());
  // Several records when there are many voters: one record is at most 65,535 bytes.
  for (let i = 0; i < fixture.voters.length; i += 400)
    log.accept(fixture.credentials(fixture.voters.slice(i, i + 400)));
  const order: Phase[] = ['open', 'close', 'final'];
  if (fixture.guardianKeys.length > 0 && phase !== 'setup') log.accept(...keyCeremony(fixture).records());
  for (const p of order.slice(0, order.indexOf(phase as Phase) + 1)) log.accept(fixture.phase(p));
  return log;
}
