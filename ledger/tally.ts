/**
 * The counting function (DESIGN.md "Counting"): what a `tally` record over
 * the log's first `size` records must say, as a pure function of the
 * election state after those records. The rules (rules.ts) keep the
 * aggregates it reads up to date record by record and admit a `tally` only
 * if its body is exactly {@link tallyBody}'s; the counter and the verifier's
 * audit replay the log with the same rules and call the same function, so
 * a counter key can publish nothing that replaying the log does not give.
 *
 * The aggregates (state entry `count/<election>/<contest>`, a
 * {@link ContestCountState}) sum the current report of every polling
 * district per unit: the contest's constituency holding the district (its
 * method's `constituencies`), or the election's root district for one tier
 * and for districts outside every constituency. Per unit they keep three
 * sums: the current preliminary reports, the current final reports, and
 * `counted`, each district's final report where there is one, else its
 * preliminary one. A later report for the same district, contest and stage
 * replaces the earlier one in the sums (the earlier stays in the log and in
 * the report's history); a final report replaces the preliminary one in
 * `counted`.
 */
import { fromBase64 } from './bytes.js';
import type { ContestDef, ContestTally, CountSum, TallyBody } from './record.js';
import type { ElectionState } from './rules.js';
import { allocateSeats } from './seats.js';

/** A report's figures, as kept in the state (rules.ts ReportState). */
export type ReportFigures = { counts: { [option: string]: number }; blank: number; invalid: number };

/** The sums of one unit (constituency, or the root for the rest). */
export type UnitCount = { preliminary: CountSum; final: CountSum; counted: CountSum };

/** State entry `count/<election>/<contest>`: the contest's sums per unit, by unit id. */
export type ContestCountState = { units: { [unit: string]: UnitCount } };

/** Decrypted e-ballots of one unit: the polling districts whose sums a quorum decrypted, their ballots, weight and votes. */
export type EncryptedUnitVotes = {
  districts: number;
  ballots: number;
  weight: number;
  votes: { [option: string]: number };
};

/**
 * State entry `evotes/<election>` of an encrypted election: per contest and
 * unit (as for the report sums), the decrypted e-ballots, kept by the rules
 * as each polling district's sums are decrypted (and withdrawn when an
 * override changes a decrypted district's sums).
 */
export type EncryptedVotesState = { contests: { [contest: string]: { [unit: string]: EncryptedUnitVotes } } };

/**
 * `state` with one polling district's decrypted votes (per contest: its
 * ballots, weight and votes per option) added (`sign` 1) or withdrawn
 * (`sign` -1), each contest in its unit (`unit(contest)`). A new object.
 */
export function moveEncryptedVotes(
  state: EncryptedVotesState | undefined,
  district: { [contest: string]: { ballots: number; weight: number; votes: { [option: string]: number } } },
  unit: (contest: string) => string,
  sign: 1 | -1,
): EncryptedVotesState {
  const contests = { ...state?.contests };
  for (const [c, d] of Object.entries(district)) {
    const units = { ...contests[c] };
    const u = unit(c);
    const was = units[u] ?? { districts: 0, ballots: 0, weight: 0, votes: {} };
    const votes = { ...was.votes };
    for (const [o, n] of Object.entries(d.votes)) votes[o] = (votes[o] ?? 0) + sign * n;
    units[u] = {
      districts: was.districts + sign,
      ballots: was.ballots + sign * d.ballots,
      weight: was.weight + sign * d.weight,
      votes,
    };
    contests[c] = units;
  }
  return { contests };
}

/** A sum of nothing over `contest`'s options. */
export function emptySum(contest: ContestDef): CountSum {
  const votes: { [option: string]: number } = {};
  for (const o of contest.options) votes[o.id] = 0;
  return { votes, blank: 0, invalid: 0, districts: 0, electorate: 0 };
}

/** `sum` with one district's report added (`sign` 1) or taken away (`sign` -1). A new object. */
export function addReport(sum: CountSum, report: ReportFigures, electorate: number, sign: 1 | -1): CountSum {
  const votes: { [option: string]: number } = {};
  for (const [o, n] of Object.entries(sum.votes)) votes[o] = n + sign * (report.counts[o] ?? 0);
  return {
    votes,
    blank: sum.blank + sign * report.blank,
    invalid: sum.invalid + sign * report.invalid,
    districts: sum.districts + sign,
    electorate: sum.electorate + sign * electorate,
  };
}

/** The sum of several sums over the same options. */
export function addSums(contest: ContestDef, sums: Iterable<CountSum>): CountSum {
  let total = emptySum(contest);
  for (const s of sums) {
    const votes: { [option: string]: number } = {};
    for (const o of contest.options) votes[o.id] = total.votes[o.id]! + s.votes[o.id]!;
    total = {
      votes,
      blank: total.blank + s.blank,
      invalid: total.invalid + s.invalid,
      districts: total.districts + s.districts,
      electorate: total.electorate + s.electorate,
    };
  }
  return total;
}

/**
 * The unit of a district for `contest`: the first district on its path
 * (root first) that is one of the method's constituencies, else `root`.
 * record.ts guarantees constituencies do not nest, so there is at most one.
 */
export function unitOf(contest: ContestDef, path: readonly string[], root: string): string {
  const c = contest.method.name === 'plurality' ? undefined : contest.method.constituencies;
  if (c) for (const d of path) if (Object.hasOwn(c, d)) return d;
  return root;
}

/**
 * The aggregate after a report: `previous` is the report it replaces for the
 * same district, contest and stage (undefined if it is the first), and
 * `preliminary` the district's current preliminary report when `stage` is
 * final (what a first final report replaces in `counted`).
 */
export function countAfterReport(
  contest: ContestDef,
  state: ContestCountState | undefined,
  unit: string,
  electorate: number,
  stage: 'preliminary' | 'final',
  report: ReportFigures,
  previous: ReportFigures | undefined,
  preliminary: ReportFigures | undefined,
): ContestCountState {
  const units = { ...(state?.units ?? {}) };
  const empty = emptySum(contest);
  const u = units[unit] ?? { preliminary: empty, final: empty, counted: empty };
  let staged = u[stage];
  if (previous) staged = addReport(staged, previous, electorate, -1);
  staged = addReport(staged, report, electorate, 1);
  // What `counted` held for this district: the previous report of this stage,
  // or (for a first final report) the preliminary one.
  const replaced = previous ?? (stage === 'final' ? preliminary : undefined);
  let counted = u.counted;
  if (replaced) counted = addReport(counted, replaced, electorate, -1);
  counted = addReport(counted, report, electorate, 1);
  units[unit] = { ...u, [stage]: staged, counted };
  return { units };
}

/** Inputs of {@link tallyBody} beyond the election state. */
export type TallyPoint = {
  /** The records counted: the log's first `size`. */
  size: number;
  /** Base64 tree root at `size`. */
  root: string;
  /** The lot's seed: the tree at the record that closed voting (base64 root). */
  seed: { size: number; root: string };
};

/**
 * One contest's tally from its aggregate (undefined before any report) and,
 * in an encrypted election, its decrypted e-ballots per unit (`evotes`).
 * Seats are allocated by the contest's method over `counted`, reports and
 * decrypted e-ballots together (per constituency for two tiers), with lots
 * drawn from `seed`.
 */
export function contestTally(
  election: ElectionState,
  contest: ContestDef,
  count: ContestCountState | undefined,
  seed: Uint8Array,
  evotes?: { [unit: string]: EncryptedUnitVotes },
): ContestTally {
  const units = Object.keys(count?.units ?? {}).sort();
  const sumOf = (k: keyof UnitCount) =>
    addSums(
      contest,
      units.map((u) => count!.units[u]![k]),
    );
  // A unit's counted votes: its reports', plus its decrypted e-ballots'.
  const countedVotes = (unit: string | undefined): { [option: string]: number } => {
    const votes: { [option: string]: number } = {};
    const paper = unit === undefined ? undefined : count?.units[unit]?.counted.votes;
    const e = unit === undefined ? undefined : evotes?.[unit]?.votes;
    for (const o of contest.options) votes[o.id] = (paper?.[o.id] ?? 0) + (e?.[o.id] ?? 0);
    return votes;
  };
  const encrypted = election.roles.guardians !== undefined;
  const decrypted = { ballots: 0, weight: 0, districts: 0, votes: emptySum(contest).votes };
  for (const u of Object.keys(evotes ?? {}).sort()) {
    const x = evotes![u]!;
    decrypted.ballots += x.ballots;
    decrypted.weight += x.weight;
    decrypted.districts += x.districts;
    for (const o of contest.options) decrypted.votes[o.id]! += x.votes[o.id] ?? 0;
  }
  const paper = sumOf('counted');
  const votes: { [option: string]: number } = {};
  for (const o of contest.options) votes[o.id] = paper.votes[o.id]! + decrypted.votes[o.id]!;
  const counted = { ...paper, votes };
  const final = sumOf('final');
  const method = contest.method;
  const constituencies = method.name === 'plurality' ? undefined : method.constituencies;
  let constituencyVotes: { [district: string]: { [option: string]: number } } | undefined;
  if (constituencies) {
    constituencyVotes = {};
    for (const d of Object.keys(constituencies).sort()) constituencyVotes[d] = countedVotes(d);
  }
  const eballots = election.eballots[contest.id] ?? { ballots: 0, weight: 0 };
  return {
    preliminary: sumOf('preliminary'),
    final,
    counted,
    eballots: {
      ballots: eballots.ballots,
      weight: eballots.weight,
      ...(encrypted ? { decrypted } : {}),
    },
    polling: election.counts.polling,
    electorate: election.counts.electorate,
    provisional:
      final.districts < election.counts.polling || (encrypted && decrypted.ballots < eballots.ballots),
    seats: allocateSeats({
      contest: contest.id,
      method,
      seats: contest.seats,
      options: contest.options.map((o) => o.id),
      votes: counted.votes,
      ...(constituencyVotes ? { constituencyVotes } : {}),
      seed,
    }),
  };
}

/**
 * The body a `tally` record over `point` must have, given the election's
 * state then, each contest's aggregate (`count(contestId)`) and, in an
 * encrypted election, the decrypted e-ballots (`evotes`). Throws
 * RangeError if the election has not closed (there is no lot seed).
 */
export function tallyBody(
  election: ElectionState,
  count: (contest: string) => ContestCountState | undefined,
  point: TallyPoint,
  evotes?: EncryptedVotesState,
): TallyBody {
  if (election.phase !== 'close' && election.phase !== 'final')
    throw new RangeError(`tallyBody: election ${election.id} has not closed`);
  const seed = fromBase64(point.seed.root);
  const contests: { [contest: string]: ContestTally } = {};
  for (const c of election.contests)
    contests[c.id] = contestTally(election, c, count(c.id), seed, evotes?.contests[c.id]);
  return {
    size: point.size,
    root: point.root,
    seed: { size: point.seed.size, root: point.seed.root },
    phase: election.phase,
    contests,
  };
}
