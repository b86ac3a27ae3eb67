/**
 * The synthetic election night of `urna demo`: a Swedish-style general
 * election (country → 21 counties → municipalities → polling districts;
 * riksdag, region and municipality contests), its role keys, voters and every
 * record, all derived from a seed. The same options give byte-identical
 * records, whatever order they are asked for in; only the tally depends on
 * the log (the checkpoint it is bound to). No I/O.
 *
 * Sizes scale down from Sweden's 6,004 polling districts and 290
 * municipalities: with P polling districts there are min(21, P) counties and
 * min(290, max(counties, round(P × 290 / 6004))) municipalities, each county
 * holding at least one municipality and each municipality at least one
 * polling district.
 */
import { toBase64, toHex, utf8 } from '../../ledger/bytes.js';
import { ed25519 } from '../../ledger/ed25519.js';
import { hash, leafHash } from '../../ledger/hash.js';
import {
  ballotTracker,
  ID_PATTERN,
  signRecord,
  type ContestDef,
  type DistrictDef,
  type ElectionBody,
  type Method,
  type Phase,
  type ReportBody,
  type Stage,
  type UnsignedRecord,
} from '../../ledger/record.js';
import { credentialRecords, planElection } from './election-records.js';
import {
  decryptionBody,
  encryptBallot,
  guardianBody,
  openShare,
  sharesBody,
  type EncryptionContext,
} from '../../ledger/encrypted-election.js';
import {
  communicationKey,
  electionKey,
  guardianKey,
  guardianSecret,
  keyShare,
  shareFor,
  type CommunicationKey,
  type GuardianSecret,
} from '../../ledger/guardian.js';
import { encodeElement, hashToScalar } from '../../ledger/group.js';
import type { EncryptedSumState } from '../../ledger/rules.js';

/** An encrypted demo's guardians' secrets and its encryption context (all from the seed). */
type DemoEncryption = {
  hash: Uint8Array;
  secrets: GuardianSecret[];
  zetas: bigint[];
  comms: CommunicationKey[];
  ctx: EncryptionContext;
  random: () => bigint;
};

/** A reproducible stream of scalars for `label` (a demo's, never secret). */
function scalarStream(label: string): () => bigint {
  let i = 0;
  return () => hashToScalar('demo/stream', [utf8(label), utf8(String(i++))]);
}

/** Defaults: Sweden's polling districts, a voting-credential sample, a fixed seed. */
export const DEMO_DEFAULTS = Object.freeze({ districts: 6004, voters: 20_000, seed: '2026' });

/**
 * Shares of voters who cast an e-ballot, re-vote (of those), and vote on
 * paper after all (of all); shares of polling districts that never report,
 * and that report preliminarily but never finally (at least one each from
 * 10 polling districts up).
 */
export const DEMO_RATES = Object.freeze({
  vote: 0.9,
  revote: 0.05,
  override: 0.01,
  unreported: 0.005,
  noFinal: 0.01,
});

/** Options of {@link DemoElection}. */
export type DemoOptions = {
  /** Everything derives from it. */
  seed: string;
  /** The authority's Ed25519 seed (from its key file): it signs `election`, `districts` and `phase`. */
  authority: Uint8Array;
  /** Polling districts (leaves of the tree); default 6,004. */
  districts?: number;
  /** Voting credentials; default 20,000. */
  voters?: number;
  /** Election id; default `demo-<seed>` (or `demo-<hash>` if the seed makes no valid id). */
  election?: string;
  /**
   * An encrypted election: `count` guardians of whom `quorum` decrypt. Its
   * ballots are encrypted with proofs, with nonces drawn from the seed (so
   * the demo is reproducible, and its ballots are not secret: a real client
   * draws them from the CSPRNG).
   */
  guardians?: { count: number; quorum: number };
};

/**
 * A small deterministic PRNG (sfc32, by Chris Doty-Humphrey, from PractRand)
 * seeded with SHA-256 of a label: statistically fine for synthetic data,
 * not for anything secret.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(label: string) {
    const digest = hash(utf8(label));
    const h = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
    this.#a = h.getUint32(0);
    this.#b = h.getUint32(4);
    this.#c = h.getUint32(8);
    this.#d = h.getUint32(12);
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** A uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** `n` uniform bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (x >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

// Sweden's counties (län) with their official codes.
const COUNTIES: ReadonlyArray<[code: string, name: string]> = [
  ['01', 'Stockholms län'],
  ['03', 'Uppsala län'],
  ['04', 'Södermanlands län'],
  ['05', 'Östergötlands län'],
  ['06', 'Jönköpings län'],
  ['07', 'Kronobergs län'],
  ['08', 'Kalmar län'],
  ['09', 'Gotlands län'],
  ['10', 'Blekinge län'],
  ['12', 'Skåne län'],
  ['13', 'Hallands län'],
  ['14', 'Västra Götalands län'],
  ['17', 'Värmlands län'],
  ['18', 'Örebro län'],
  ['19', 'Västmanlands län'],
  ['20', 'Dalarnas län'],
  ['21', 'Gävleborgs län'],
  ['22', 'Västernorrlands län'],
  ['23', 'Jämtlands län'],
  ['24', 'Västerbottens län'],
  ['25', 'Norrbottens län'],
];

// The eight parties of the Riksdag with roughly their 2022 shares (weights).
const PARTIES: ReadonlyArray<[id: string, title: string, weight: number]> = [
  ['s', 'Socialdemokraterna', 30.3],
  ['sd', 'Sverigedemokraterna', 20.5],
  ['m', 'Moderaterna', 19.1],
  ['v', 'Vänsterpartiet', 6.8],
  ['c', 'Centerpartiet', 6.7],
  ['kd', 'Kristdemokraterna', 5.3],
  ['mp', 'Miljöpartiet', 5.1],
  ['l', 'Liberalerna', 4.6],
];

/**
 * The contests' methods, as Swedish law counts them (Vallag 2005:837 ch. 14):
 * modified Sainte-Laguë (first divisor 1.2) everywhere; the Riksdag with a
 * 4% national threshold, 12% in a constituency for its fixed seats, 310
 * fixed seats over the constituencies (here the counties, by electorate)
 * and 39 adjustment seats; the regions with a 3% threshold.
 */
const RIKSDAG_FIXED_SEATS = 310;

const CONTESTS: ReadonlyArray<{ def: ContestDef; weights: number[]; turnout: number }> = [
  {
    def: contest('riksdag', 'Val till riksdagen', 349, [], {
      name: 'sainte-lague',
      firstDivisor: 1.2,
      threshold: 0.04,
      constituencyThreshold: 0.12,
    }),
    weights: PARTIES.map((p) => p[2]),
    turnout: 1,
  },
  {
    def: contest('region', 'Val till regionfullmäktige', 101, [['sjvp', 'Sjukvårdspartiet']], {
      name: 'sainte-lague',
      firstDivisor: 1.2,
      threshold: 0.03,
    }),
    weights: [...PARTIES.map((p) => p[2]), 2],
    turnout: 0.985,
  },
  {
    def: contest('kommun', 'Val till kommunfullmäktige', 61, [['lokal', 'Lokala partier']], {
      name: 'sainte-lague',
      firstDivisor: 1.2,
    }),
    weights: [...PARTIES.map((p) => p[2]), 4],
    turnout: 0.99,
  },
];

function contest(
  id: string,
  title: string,
  seats: number,
  extra: Array<[string, string]>,
  method: Method,
): ContestDef {
  return {
    id,
    title,
    options: [
      ...PARTIES.map(([id, title]) => ({ id, title })),
      ...extra.map(([id, title]) => ({ id, title })),
    ],
    seats,
    method,
  };
}

/** The contest ids of the demo election. */
export const DEMO_CONTESTS: readonly string[] = CONTESTS.map((c) => c.def.id);

/** One voter: home district and what they do on election night. */
export type DemoVoter = {
  district: string;
  /** Casts an e-ballot. */
  votes: boolean;
  /** Casts a second e-ballot later (which is the one counted). */
  revotes: boolean;
  /** Votes on paper after all: the reporter records an override. */
  overridden: boolean;
};

type Counts = { counts: { [option: string]: number }; blank: number; invalid: number };

/** One contest's figures as the demo planned them ({@link DemoElection.groundTruth}). */
export type DemoTruth = {
  preliminary: {
    votes: { [option: string]: number };
    blank: number;
    invalid: number;
    districts: number;
    electorate: number;
  };
  final: DemoTruth['preliminary'];
  counted: DemoTruth['preliminary'];
  eballots: number;
  /** In an encrypted election: the counted e-ballots' votes per option (after re-voting and overrides). */
  evotes?: { [option: string]: number };
};

/** `total` split in proportion to `weights` by largest remainders (ties to the earlier weight). */
function largestRemainders(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]!++;
  }
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** A synthetic election night; see the module comment. */
export class DemoElection {
  readonly id: string;
  readonly seed: string;
  /** The election body with every district (what `urna election create` takes as a manifest). */
  readonly body: ElectionBody;
  /** Polling districts: the leaves, which report. */
  readonly polling: readonly DistrictDef[];
  /** The county of each polling district. */
  readonly countyOf: ReadonlyMap<string, string>;
  readonly voters: readonly DemoVoter[];
  /** Polling districts that never report. */
  readonly unreported: ReadonlySet<string>;
  /** Polling districts that report preliminarily but never finally. */
  readonly noFinal: ReadonlySet<string>;
  readonly #authority: Uint8Array;
  readonly #registrar: Uint8Array;
  readonly #counter: Uint8Array;
  readonly #reporters = new Map<string, Uint8Array>();
  readonly #finals = new Map<string, Counts>();
  readonly #electorates: ReadonlyMap<string, number>;
  readonly #guardians: readonly Uint8Array[];
  #encryption: DemoEncryption | undefined;

  constructor(opts: DemoOptions) {
    const p = opts.districts ?? DEMO_DEFAULTS.districts;
    const n = opts.voters ?? DEMO_DEFAULTS.voters;
    if (!Number.isSafeInteger(p) || p < 1) throw new RangeError('demo: districts must be a positive integer');
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError('demo: voters must be a non-negative integer');
    this.seed = opts.seed;
    const fallbackId = `demo-${opts.seed}`;
    this.id =
      opts.election ??
      (ID_PATTERN.test(fallbackId) ? fallbackId : `demo-${toHex(hash(utf8(opts.seed))).slice(0, 12)}`);
    this.#authority = opts.authority;
    this.#registrar = this.#keySeed('registrar');
    this.#counter = this.#keySeed('counter');
    const g = opts.guardians;
    if (g && !(Number.isSafeInteger(g.count) && g.count >= 1 && g.quorum >= 1 && g.quorum <= g.count))
      throw new RangeError('demo: guardians must be at least 1, and the quorum between 1 and them');
    this.#guardians = Array.from({ length: g?.count ?? 0 }, (_, i) => this.#keySeed(`guardian ${i + 1}`));

    // The tree, before electorates.
    const c = Math.min(COUNTIES.length, p);
    const m = Math.min(290, Math.max(c, Math.round((p * 290) / 6004)));
    const counties = COUNTIES.slice(0, c).map(([code, name]) => ({ id: `l${code}`, name }));
    const mWidth = Math.max(3, String(m).length);
    const pWidth = Math.max(4, String(p).length);
    const municipalities = Array.from({ length: m }, (_, i) => ({
      id: `k${pad(i + 1, mWidth)}`,
      name: `Kommun ${pad(i + 1, mWidth)}`,
      parent: counties[Math.floor((i * c) / m)]!.id,
    }));
    const polling = Array.from({ length: p }, (_, i) => ({
      id: `v${pad(i + 1, pWidth)}`,
      name: `Valdistrikt ${pad(i + 1, pWidth)}`,
      parent: municipalities[Math.floor((i * m) / p)]!.id,
    }));

    // Voters, then electorates at least as large as the credentials issued there.
    const rng = new Rng(`urna demo ${this.seed} voters`);
    const credentialsIn = new Array<number>(p).fill(0);
    this.voters = Array.from({ length: n }, () => {
      const d = rng.int(0, p - 1);
      credentialsIn[d]!++;
      const votes = rng.float() < DEMO_RATES.vote;
      const revotes = votes && rng.float() < DEMO_RATES.revote;
      const overridden = rng.float() < DEMO_RATES.override;
      return { district: polling[d]!.id, votes, revotes, overridden };
    });
    const treeRng = new Rng(`urna demo ${this.seed} electorates`);
    const electorate = new Map<string, number>();
    const pollingDefs: DistrictDef[] = polling.map((d, i) => {
      const e = Math.max(treeRng.int(600, 2200), credentialsIn[i]!);
      electorate.set(d.id, e);
      return { ...d, electorate: e };
    });
    const sumUp = (id: string, parent: string) =>
      electorate.set(parent, (electorate.get(parent) ?? 0) + electorate.get(id)!);
    for (const d of polling) sumUp(d.id, d.parent);
    for (const k of municipalities) sumUp(k.id, k.parent);
    for (const l of counties) sumUp(l.id, 'se');
    const countyOfMunicipality = new Map(municipalities.map((k) => [k.id, k.parent]));
    this.countyOf = new Map(polling.map((d) => [d.id, countyOfMunicipality.get(d.parent)!]));
    this.polling = pollingDefs;
    this.#electorates = electorate;
    const gapRng = new Rng(`urna demo ${this.seed} gaps`);
    const shuffled = polling.map((d) => d.id);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = gapRng.int(0, i);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const gaps = (rate: number) => (p >= 10 ? Math.max(1, Math.round(p * rate)) : 0);
    const u = gaps(DEMO_RATES.unreported);
    this.unreported = new Set(shuffled.slice(0, u));
    this.noFinal = new Set(shuffled.slice(u, u + gaps(DEMO_RATES.noFinal)));

    for (const l of counties) this.#reporters.set(l.id, this.#keySeed(`reporter ${l.id}`));
    const pub = (seed: Uint8Array) => toBase64(ed25519().publicKey(seed));
    // The Riksdag's fixed seats over the counties by electorate, largest remainders.
    const fixed = largestRemainders(
      RIKSDAG_FIXED_SEATS,
      counties.map((l) => electorate.get(l.id)!),
    );
    const constituencies = Object.fromEntries(counties.map((l, i) => [l.id, fixed[i]!]));
    this.body = {
      id: this.id,
      title: `Allmänna val (demo ${this.seed})`,
      contests: CONTESTS.map((x) =>
        x.def.id === 'riksdag' ? { ...x.def, method: { ...x.def.method, constituencies } } : x.def,
      ),
      districts: [
        { id: 'se', name: 'Sverige', parent: null, electorate: electorate.get('se')! },
        ...counties.map((l) => ({ ...l, parent: 'se', electorate: electorate.get(l.id)! })),
        ...municipalities.map((k) => ({ ...k, electorate: electorate.get(k.id)! })),
        ...pollingDefs,
      ],
      roles: {
        registrar: pub(this.#registrar),
        counter: pub(this.#counter),
        reporters: counties.map((l) => ({ key: pub(this.#reporters.get(l.id)!), district: l.id })),
        ...(g ? { guardians: { keys: this.#guardians.map(pub), quorum: g.quorum } } : {}),
      },
      revoting: 'last',
    };
  }

  #keySeed(label: string): Uint8Array {
    return hash(utf8(`urna demo ${this.seed} key ${label}`));
  }

  #sign(unsigned: UnsignedRecord, seed: Uint8Array): Uint8Array {
    return signRecord(unsigned, seed);
  }

  /** The Ed25519 seed of voter `i`'s credential. */
  voterSeed(i: number): Uint8Array {
    return this.#keySeed(`voter ${i}`);
  }

  /** The `election` record, then the `districts` records (parents before children). */
  electionRecords(): Uint8Array[] {
    const plan = planElection(this.body);
    return [plan.election, ...plan.districts].map((r) => this.#sign(r, this.#authority));
  }

  /** The `credentials` records for every voter, signed by the registrar as they are drawn. */
  *credentials(): Generator<Uint8Array> {
    const voters = this.voters;
    const seedOf = (i: number) => this.voterSeed(i);
    function* credentials() {
      for (const [i, v] of voters.entries())
        yield { key: toBase64(ed25519().publicKey(seedOf(i))), district: v.district };
    }
    for (const r of credentialRecords(this.id, credentials())) yield this.#sign(r, this.#registrar);
  }

  /** A `phase` record. */
  phase(phase: Phase): Uint8Array {
    return this.#sign({ v: 1, type: 'phase', election: this.id, body: { phase } }, this.#authority);
  }

  /** Whether the election is encrypted (it has guardians). */
  get encrypted(): boolean {
    return this.#guardians.length > 0;
  }

  /** The guardians' secrets and the election's encryption context, derived from the seed once. */
  get #crypto(): DemoEncryption {
    if (this.#encryption) return this.#encryption;
    const quorum = this.body.roles.guardians!.quorum;
    const hash = leafHash(this.electionRecords()[0]!);
    const random = scalarStream(`urna demo ${this.seed} ceremony`);
    const secrets = this.#guardians.map((_, i) => guardianSecret(i + 1, quorum, random));
    const zetas = secrets.map(() => random());
    const comms = zetas.map((z, i) => communicationKey(i + 1, z, hash, random));
    const key = electionKey(secrets.map((s) => guardianKey(s, hash, random)));
    const ctx: EncryptionContext = { hash, key, contests: this.body.contests };
    return (this.#encryption = { hash, secrets, zetas, comms, ctx, random });
  }

  /**
   * The key ceremony of an encrypted election, in the order the rules admit
   * it: every guardian's `guardian` record, then every `shares`, then every
   * `accept` (each guardian opens its shares first, as a guardian must).
   */
  ceremony(): Uint8Array[] {
    if (!this.encrypted) return [];
    const { hash, secrets, zetas, comms, ctx, random } = this.#crypto;
    const sign = (type: 'guardian' | 'shares' | 'accept', i: number, body: unknown) =>
      this.#sign({ v: 1, type, election: this.id, body } as UnsignedRecord, this.#guardians[i]!);
    const keys = secrets.map((s) => guardianKey(s, hash, random));
    const shares = secrets.map((s) => sharesBody(s, comms, hash, random));
    const accepts = secrets.map((s, i) => {
      for (const body of shares.filter((b) => b.index !== s.index))
        if (typeof openShare(body, s.index, zetas[i]!, keys[body.index - 1]!, hash) !== 'bigint')
          throw new Error(`demo: guardian ${s.index} cannot open the share of guardian ${body.index}`);
      return sign('accept', i, { index: s.index, key: toBase64(encodeElement(ctx.key)) });
    });
    return [
      ...secrets.map((s, i) => sign('guardian', i, guardianBody(s, zetas[i]!, hash, random))),
      ...shares.map((b, i) => sign('shares', i, b)),
      ...accepts,
    ];
  }

  /** Voter `i`'s votes in `round`: per contest one option by the contest's weights, or (1 in 50) blank. */
  choices(i: number, round: 1 | 2): { [contest: string]: { [option: string]: number } } {
    const out: { [contest: string]: { [option: string]: number } } = {};
    for (const c of CONTESTS) {
      const rng = new Rng(`urna demo ${this.seed} choice ${i} ${round} ${c.def.id}`);
      if (rng.float() < 0.02) {
        out[c.def.id] = {};
        continue;
      }
      let x = rng.float() * c.weights.reduce((a, b) => a + b, 0);
      let pick = 0;
      while (pick < c.weights.length - 1 && (x -= c.weights[pick]!) > 0) pick++;
      out[c.def.id] = { [c.def.options[pick]!.id]: 1 };
    }
    return out;
  }

  /**
   * Voter `i`'s ballot of `round` (1: first ballot, 2: the re-vote): in an
   * encrypted election its {@link choices} encrypted with proofs; else a
   * random opaque ciphertext.
   */
  ballot(i: number, round: 1 | 2): Uint8Array {
    if (this.encrypted) {
      const seed = this.voterSeed(i);
      const { body } = encryptBallot(
        this.#crypto.ctx,
        this.voters[i]!.district,
        this.choices(i, round),
        ed25519().publicKey(seed),
        scalarStream(`urna demo ${this.seed} nonces ${i} ${round}`),
      );
      return this.#sign({ v: 1, type: 'ballot', election: this.id, body }, seed);
    }
    const rng = new Rng(`urna demo ${this.seed} ballot ${i} ${round}`);
    // About the size of three ElGamal-encrypted contest choices with proofs.
    const ciphertext = toBase64(rng.bytes(rng.int(160, 480)));
    return this.#sign(
      { v: 1, type: 'ballot', election: this.id, body: { contests: [...DEMO_CONTESTS], ciphertext } },
      this.voterSeed(i),
    );
  }

  /** Indexes of voters who cast a ballot in `round`. */
  ballotVoters(round: 1 | 2): number[] {
    const out: number[] = [];
    this.voters.forEach((v, i) => {
      if (round === 1 ? v.votes : v.revotes) out.push(i);
    });
    return out;
  }

  /** The ballots of `round`, signed as they are drawn. */
  *ballots(round: 1 | 2): Generator<Uint8Array> {
    for (const i of this.ballotVoters(round)) yield this.ballot(i, round);
  }

  /** Indexes of voters whose credential is overridden (paper votes). */
  overriddenVoters(): number[] {
    const out: number[] = [];
    this.voters.forEach((v, i) => {
      if (v.overridden) out.push(i);
    });
    return out;
  }

  /** The `override` records, each by the reporter of the voter's county. */
  *overrides(): Generator<Uint8Array> {
    for (const i of this.overriddenVoters()) {
      const v = this.voters[i]!;
      const credential = toBase64(ed25519().publicKey(this.voterSeed(i)));
      yield this.#sign(
        { v: 1, type: 'override', election: this.id, body: { credential, district: v.district } },
        this.#reporters.get(this.countyOf.get(v.district)!)!,
      );
    }
  }

  /**
   * The final count of a polling district for a contest (before any
   * correction): a turnout of 75–90% (shared by the contests of a district),
   * some blank and invalid votes, the rest over the options by weight with
   * noise, by largest remainders. Never above the district's electorate.
   */
  finalCounts(district: string, contestId: string): Counts {
    const key = `${district}/${contestId}`;
    const known = this.#finals.get(key);
    if (known) return known;
    const electorate = this.#electorates.get(district);
    const c = CONTESTS.find((x) => x.def.id === contestId);
    if (!this.countyOf.has(district) || electorate === undefined || !c)
      throw new RangeError(`demo: no polling district ${district} or contest ${contestId}`);
    const turnout = 0.75 + 0.15 * new Rng(`urna demo ${this.seed} turnout ${district}`).float();
    const rng = new Rng(`urna demo ${this.seed} count ${key}`);
    const cast = Math.floor(electorate * turnout * c.turnout);
    const blank = Math.floor(cast * (0.002 + 0.01 * rng.float()));
    const invalid = Math.floor(cast * 0.003 * rng.float());
    const valid = cast - blank - invalid;
    const weights = c.weights.map((w) => w * (0.5 + rng.float()));
    const counts = largestRemainders(valid, weights);
    const result: Counts = {
      counts: Object.fromEntries(c.def.options.map((o, i) => [o.id, counts[i]!])),
      blank,
      invalid,
    };
    this.#finals.set(key, result);
    return result;
  }

  /** The preliminary count: the final one less up to 3% of each option (votes counted later). */
  preliminaryCounts(district: string, contestId: string): Counts {
    const f = this.finalCounts(district, contestId);
    const rng = new Rng(`urna demo ${this.seed} preliminary ${district}/${contestId}`);
    const counts = Object.fromEntries(
      Object.entries(f.counts).map(([o, n]) => [o, n - Math.floor(n * 0.03 * rng.float())]),
    );
    return { counts, blank: f.blank - Math.floor(f.blank * 0.05 * rng.float()), invalid: f.invalid };
  }

  #report(district: string, contestId: string, stage: Stage, counts: Counts, version = 1): Uint8Array {
    const body: ReportBody = {
      district,
      contest: contestId,
      stage,
      ...counts,
      protocol: toHex(
        hash(utf8(`urna demo ${this.seed} protocol ${district} ${contestId} ${stage} ${version}`)),
      ),
    };
    return this.#sign(
      { v: 1, type: 'report', election: this.id, body },
      this.#reporters.get(this.countyOf.get(district)!)!,
    );
  }

  /**
   * Every record of the night before the counter's tallies, in the order the
   * rules admit them (urna demo submits them stage by stage in this order).
   */
  *night(): Generator<Uint8Array> {
    yield* this.electionRecords();
    yield* this.credentials();
    yield* this.ceremony();
    yield this.phase('open');
    yield* this.ballots(1);
    yield* this.ballots(2); // after every first ballot: each re-vote is its credential's last
    yield* this.overrides(); // after the re-votes: an overridden credential casts no more
    yield this.phase('close');
    yield* this.reports('preliminary');
    yield* this.reports('final');
    yield this.correction().record;
  }

  /** The polling districts that send reports of `stage`. */
  reporting(stage: Stage): DistrictDef[] {
    return this.polling.filter(
      (d) => !this.unreported.has(d.id) && (stage === 'preliminary' || !this.noFinal.has(d.id)),
    );
  }

  /** Number of report records of `stage`: every reporting polling district × contest. */
  reportCount(stage: Stage): number {
    return this.reporting(stage).length * CONTESTS.length;
  }

  /** The reports of `stage` for every reporting polling district and contest, by the county reporters. */
  *reports(stage: Stage): Generator<Uint8Array> {
    for (const d of this.reporting(stage))
      for (const c of DEMO_CONTESTS)
        yield this.#report(
          d.id,
          c,
          stage,
          stage === 'final' ? this.finalCounts(d.id, c) : this.preliminaryCounts(d.id, c),
        );
  }

  /**
   * The correction: a second final report for one finally reporting polling
   * district's riksdag count, moving a few votes from the largest option to
   * the second (a recount), with its own protocol hash.
   */
  correction(): { district: string; contest: string; counts: Counts; record: Uint8Array } {
    const rng = new Rng(`urna demo ${this.seed} correction`);
    const finals = this.reporting('final');
    const district = finals[rng.int(0, finals.length - 1)]!.id;
    const contestId = DEMO_CONTESTS[0]!;
    const f = this.finalCounts(district, contestId);
    const [first, second] = Object.entries(f.counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const moved = Math.min(first![1], rng.int(1, 10));
    const counts: Counts = {
      ...f,
      counts: { ...f.counts, [first![0]]: first![1] - moved, [second![0]]: second![1] + moved },
    };
    return {
      district,
      contest: contestId,
      counts,
      record: this.#report(district, contestId, 'final', counts, 2),
    };
  }

  /**
   * What the night's tally must show per contest, from the plan alone (not
   * through the rules): the preliminary and final reports summed (with the
   * correction), the counted sums (final where there is one, else
   * preliminary), and the e-ballots counted after re-voting and overrides.
   */
  groundTruth(): { [contest: string]: DemoTruth } {
    const fix = this.correction();
    const out: { [contest: string]: DemoTruth } = {};
    for (const c of CONTESTS) {
      const zero = () => ({
        votes: Object.fromEntries(c.def.options.map((o) => [o.id, 0])) as { [option: string]: number },
        blank: 0,
        invalid: 0,
        districts: 0,
        electorate: 0,
      });
      const truth: DemoTruth = { preliminary: zero(), final: zero(), counted: zero(), eballots: 0 };
      const add = (sum: DemoTruth['counted'], counts: Counts, electorate: number) => {
        for (const [o, n] of Object.entries(counts.counts)) sum.votes[o]! += n;
        sum.blank += counts.blank;
        sum.invalid += counts.invalid;
        sum.districts++;
        sum.electorate += electorate;
      };
      for (const d of this.polling) {
        if (this.unreported.has(d.id)) continue;
        const pre = this.preliminaryCounts(d.id, c.def.id);
        add(truth.preliminary, pre, d.electorate);
        if (this.noFinal.has(d.id)) {
          add(truth.counted, pre, d.electorate);
          continue;
        }
        const fin =
          d.id === fix.district && c.def.id === fix.contest ? fix.counts : this.finalCounts(d.id, c.def.id);
        add(truth.final, fin, d.electorate);
        add(truth.counted, fin, d.electorate);
      }
      truth.eballots = this.voters.filter((v) => v.votes && !v.overridden).length;
      if (this.encrypted) {
        const evotes = Object.fromEntries(c.def.options.map((o) => [o.id, 0]));
        this.voters.forEach((v, i) => {
          if (!v.votes || v.overridden) return;
          for (const [o, n] of Object.entries(this.choices(i, v.revotes ? 2 : 1)[c.def.id]!)) evotes[o]! += n;
        });
        truth.evotes = evotes;
      }
      out[c.def.id] = truth;
    }
    return out;
  }

  /** The guardians who decrypt: the first `quorum` (the others stay away, as a quorum allows). */
  get decryptingGuardians(): number[] {
    const q = this.body.roles.guardians?.quorum ?? 0;
    return Array.from({ length: q }, (_, i) => i + 1);
  }

  /** Guardian `g`'s `decryption` record of polling district `district`'s sums as they stand (`sums`). */
  decryption(g: number, district: string, sums: EncryptedSumState): Uint8Array {
    const { hash, secrets, random } = this.#crypto;
    const s = keyShare(secrets.map((secret) => shareFor(secret, g)));
    const sealed = Object.fromEntries(Object.entries(sums.contests).map(([c, x]) => [c, x.sum]));
    const body = decryptionBody(g, s, district, sums.changed, sealed, hash, random);
    return this.#sign({ v: 1, type: 'decryption', election: this.id, body }, this.#guardians[g - 1]!);
  }

  /** The counter's Ed25519 seed (its role key derives from the demo's seed). */
  get counterSeed(): Uint8Array {
    return this.#counter;
  }

  /**
   * Ballot trackers worth looking up afterwards, where the demo has one: a
   * counted ballot, a ballot superseded by a re-vote, and an e-ballot
   * overridden by a paper vote.
   */
  exampleTrackers(): { included?: string; superseded?: string; overridden?: string } {
    const out: { included?: string; superseded?: string; overridden?: string } = {};
    const i = this.voters.findIndex((v) => v.votes && !v.revotes && !v.overridden);
    if (i >= 0) out.included = ballotTracker(this.ballot(i, 1));
    const s = this.voters.findIndex((v) => v.revotes && !v.overridden);
    if (s >= 0) out.superseded = ballotTracker(this.ballot(s, 1));
    const o = this.voters.findIndex((v) => v.votes && v.overridden);
    if (o >= 0) out.overridden = ballotTracker(this.ballot(o, 1));
    return out;
  }
}
