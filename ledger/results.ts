/**
 * An election's results district by district (DESIGN.md "Counting"): what
 * the counter publishes beside the tally, as a pure function of the rules'
 * state. Every polling district's figures name the report records they come
 * from (index and protocol hash, and every earlier version's index); each
 * district above them sums its sub-districts; e-ballots are counted per
 * district from the credentials (after re-voting and paper overrides), and
 * in an encrypted election with their decrypted votes where a quorum of
 * guardians decrypted the district's sums; and
 * the discrepancies list districts whose final count differs from the
 * preliminary one beyond a margin, and districts without a report.
 *
 * The contest totals at the root equal the tally's (tally.ts), computed the
 * other way round (from the reports, not from the aggregates the rules keep),
 * which the tests hold them to.
 */
import type { ContestDef, CountSum } from './record.js';
import type {
  CredentialState,
  DistrictState,
  ElectionState,
  EncryptedSumState,
  ReportState,
  StateValue,
} from './rules.js';
import { addReport, addSums, emptySum, type ReportFigures } from './tally.js';

/** A polling district's current report of one stage, and where it is in the log. */
export type ReportFigure = ReportFigures & {
  /** Index of the record. */
  index: number;
  /** Lower-case hex SHA-256 of the scanned protocol. */
  protocol: string;
  /** Indexes of every report of this district, contest and stage, oldest first (the last is `index`). */
  versions: number[];
};

/** One district's figures for one contest. */
export type DistrictContest = {
  /** Polling districts only: the current reports. */
  preliminary?: ReportFigure;
  final?: ReportFigure;
  /** Sums over the polling districts at or under this one. */
  sums: { preliminary: CountSum; final: CountSum; counted: CountSum };
  /**
   * E-ballots counted, and in an encrypted election `decrypted`: the votes
   * of the polling districts (at or under this one) whose sums a quorum of
   * guardians decrypted, and (a polling district's) the `decryption`
   * records that did.
   */
  eballots: {
    ballots: number;
    weight: number;
    decrypted?: { districts: number; votes: { [option: string]: number }; records?: number[] };
  };
};

/** One district of the tree with its figures. */
export type DistrictResult = {
  id: string;
  name: string;
  parent: string | null;
  electorate: number;
  /** Whether it is a polling district (a leaf, which reports). */
  polling: boolean;
  /** Index of the record that defined it. */
  index: number;
  contests: { [contest: string]: DistrictContest };
};

/**
 * A district whose figures want a look: `differs` (its final count differs
 * from the preliminary one by more than the margin), `unreported` (no report
 * at all), `no_final` (a preliminary report only).
 */
export type Discrepancy = {
  kind: 'differs' | 'unreported' | 'no_final';
  district: string;
  contest: string;
  preliminary?: { index: number; protocol: string };
  final?: { index: number; protocol: string };
  /** `differs`: the sum of the absolute changes of every figure, and that as a share of the preliminary votes cast. */
  change?: number;
  share?: number;
};

/** An election's results, district by district (see the module comment). */
export type ElectionResults = {
  /** Districts, parents before children, in the order they were defined. */
  districts: DistrictResult[];
  discrepancies: Discrepancy[];
};

/** Default `margin` of {@link electionResults}: 2% of a district's preliminary votes cast. */
export const DEFAULT_DISCREPANCY_MARGIN = 0.02;

/**
 * The results of `election` from the rules' state `entries` (every entry;
 * those of other elections are skipped). `margin` is the share of a
 * district's preliminary votes cast (valid, blank and invalid) that the
 * changes to its final report may add up to before it is a discrepancy.
 */
export function electionResults(
  election: ElectionState,
  entries: Iterable<[string, StateValue]>,
  opts: { margin?: number } = {},
): ElectionResults {
  const margin = opts.margin ?? DEFAULT_DISCREPANCY_MARGIN;
  const e = election.id;
  const districts = new Map<string, DistrictState & { id: string }>();
  const reports = new Map<string, ReportState>();
  const eballots = new Map<string, Map<string, { ballots: number; weight: number }>>();
  const districtPrefix = `district/${e}/`;
  const reportPrefix = `report/${e}/`;
  const credPrefix = `cred/${e}/`;
  const sumPrefix = `esum/${e}/`;
  const sums = new Map<string, EncryptedSumState>();
  for (const [key, value] of entries) {
    if (key.startsWith(districtPrefix))
      districts.set(key.slice(districtPrefix.length), {
        ...(value as DistrictState),
        id: key.slice(districtPrefix.length),
      });
    else if (key.startsWith(reportPrefix)) reports.set(key.slice(reportPrefix.length), value as ReportState);
    else if (key.startsWith(sumPrefix)) sums.set(key.slice(sumPrefix.length), value as EncryptedSumState);
    else if (key.startsWith(credPrefix)) {
      const c = value as CredentialState;
      if (c.last === null || c.overridden !== null || c.contests === null) continue;
      let byContest = eballots.get(c.district);
      if (!byContest) eballots.set(c.district, (byContest = new Map()));
      for (const contest of c.contests) {
        const n = byContest.get(contest) ?? { ballots: 0, weight: 0 };
        byContest.set(contest, { ballots: n.ballots + 1, weight: n.weight + c.weight });
      }
    }
  }

  // Parents before children, each level in the order defined.
  const ordered = [...districts.values()].sort(
    (a, b) => a.path.length - b.path.length || a.index - b.index || (a.id < b.id ? -1 : 1),
  );
  const results = new Map<string, DistrictResult>();
  const discrepancies: Discrepancy[] = [];
  for (const d of ordered) {
    const contests: { [contest: string]: DistrictContest } = {};
    for (const c of election.contests) {
      const empty = emptySum(c);
      const entry: DistrictContest = {
        sums: { preliminary: empty, final: empty, counted: empty },
        eballots: { ...(eballots.get(d.id)?.get(c.id) ?? { ballots: 0, weight: 0 }) },
      };
      if (election.roles.guardians) {
        const s = sums.get(d.id);
        const votes = s?.votes?.[c.id];
        entry.eballots.decrypted = votes
          ? {
              districts: 1,
              votes: { ...emptySum(c).votes, ...votes },
              records: Object.values(s!.decryptions!)
                .map((x) => x.record)
                .sort((a, b) => a - b),
            }
          : { districts: 0, votes: emptySum(c).votes };
      }
      if (d.children === 0) {
        const pre = figure(reports.get(`${d.id}/${c.id}/preliminary`));
        const fin = figure(reports.get(`${d.id}/${c.id}/final`));
        if (pre) entry.preliminary = pre;
        if (fin) entry.final = fin;
        const add = (f: ReportFigure | undefined) => (f ? addReport(empty, f, d.electorate, 1) : empty);
        entry.sums = { preliminary: add(pre), final: add(fin), counted: add(fin ?? pre) };
        const discrepancy = discrepancyOf(d.id, c, pre, fin, margin);
        if (discrepancy) discrepancies.push(discrepancy);
      }
      contests[c.id] = entry;
    }
    results.set(d.id, {
      id: d.id,
      name: d.name,
      parent: d.parent,
      electorate: d.electorate,
      polling: d.children === 0,
      index: d.index,
      contests,
    });
  }
  // Sum up the tree, deepest first.
  for (const d of [...ordered].reverse()) {
    if (d.parent === null) continue;
    const child = results.get(d.id)!;
    const parent = results.get(d.parent)!;
    for (const c of election.contests) {
      const p = parent.contests[c.id]!;
      const x = child.contests[c.id]!;
      p.sums = {
        preliminary: addSums(c, [p.sums.preliminary, x.sums.preliminary]),
        final: addSums(c, [p.sums.final, x.sums.final]),
        counted: addSums(c, [p.sums.counted, x.sums.counted]),
      };
      const pd = p.eballots.decrypted;
      const xd = x.eballots.decrypted;
      p.eballots = {
        ballots: p.eballots.ballots + x.eballots.ballots,
        weight: p.eballots.weight + x.eballots.weight,
        ...(pd && xd
          ? {
              decrypted: {
                districts: pd.districts + xd.districts,
                votes: Object.fromEntries(c.options.map((o) => [o.id, pd.votes[o.id]! + xd.votes[o.id]!])),
              },
            }
          : {}),
      };
    }
  }
  return { districts: ordered.map((d) => results.get(d.id)!), discrepancies };
}

function figure(r: ReportState | undefined): ReportFigure | undefined {
  if (!r) return undefined;
  return {
    counts: { ...r.counts },
    blank: r.blank,
    invalid: r.invalid,
    index: r.current,
    protocol: r.protocol,
    versions: [...r.indexes],
  };
}

function cast(f: ReportFigures): number {
  return f.blank + f.invalid + Object.values(f.counts).reduce((a, b) => a + b, 0);
}

function discrepancyOf(
  district: string,
  contest: ContestDef,
  pre: ReportFigure | undefined,
  fin: ReportFigure | undefined,
  margin: number,
): Discrepancy | null {
  const ref = (f: ReportFigure) => ({ index: f.index, protocol: f.protocol });
  const base = { district, contest: contest.id };
  if (!pre && !fin) return { kind: 'unreported', ...base };
  if (!fin) return { kind: 'no_final', ...base, preliminary: ref(pre!) };
  if (!pre) return null;
  let change = Math.abs(fin.blank - pre.blank) + Math.abs(fin.invalid - pre.invalid);
  for (const o of contest.options) change += Math.abs((fin.counts[o.id] ?? 0) - (pre.counts[o.id] ?? 0));
  const share = change / Math.max(1, cast(pre));
  if (share <= margin) return null;
  return { kind: 'differs', ...base, preliminary: ref(pre), final: ref(fin), change, share };
}
