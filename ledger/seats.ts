/**
 * Seat allocation for a contest: plurality, and the highest-averages
 * (divisor) methods of D'Hondt (divisors 1, 2, 3, ...) and Sainte-Laguë
 * (divisors 1, 3, 5, ...; the first divisor may be raised, as in Sweden's
 * 1.2 and Norway's 1.4), with an optional national threshold and an optional
 * two-tier structure of fixed constituency seats plus adjustment (levelling)
 * seats. Pure and synchronous; every comparison of quotients is exact (BigInt
 * cross-multiplication, never floating point).
 *
 * The two-tier computation follows the structure of the Swedish Riksdag
 * election (Vallag (2005:837), ch. 14: fixed constituency seats among parties
 * with 4% nationally or 12% in the constituency; the national distribution
 * among the parties above 4%, with the seats won by parties below it taken
 * off the total; a party whose fixed seats exceed its proportional share is
 * set aside with its fixed seats and the distribution redone) and of the
 * Norwegian Storting (valgloven § 11-6: levelling seats are each party's
 * national share minus its constituency seats, after setting aside parties
 * whose constituency seats exceed their share). It computes seats per option
 * only; it does not assign adjustment seats to constituencies. One method
 * (and one first divisor) serves both tiers, as in Sweden; only
 * options qualified nationally or reaching `constituencyThreshold` compete
 * for fixed seats, so without `threshold` every option does, and
 * `constituencyThreshold` then changes nothing.
 *
 * Ties. When several options share the highest quotient and fewer seats
 * remain than there are tied options, the method's `ties` rule decides:
 * `votes` gives the seat to the option with more votes in the scope where the
 * seat is allocated (the constituency for fixed seats, the contest otherwise)
 * and draws a lot among those still equal; `lot` draws a lot among all the
 * tied options. In plurality the tied options have equal votes by
 * definition, so either rule draws a lot. A lot is drawn only when it
 * decides something. Each draw awards one seat and is recorded as a
 * {@link Lot}; drawing k seats among n tied options makes k draws, over n,
 * n-1, ..., n-k+1 candidates (the first k of one {@link lotOrder}).
 *
 * The lot ({@link lotOrder}) is deterministic from a 32-byte seed, so anyone
 * can recompute it. Each candidate option gets the key
 *
 *     SHA-256( "urna/lot/v1\n" || seed || scope || "\n" || option )
 *
 * where `"urna/lot/v1\n"`, `scope` and `option` are UTF-8 bytes (the first is
 * the 12 bytes 75 72 6e 61 2f 6c 6f 74 2f 76 31 0a), `seed` is the 32 raw
 * seed bytes and `||` is concatenation. Candidates are ordered by key,
 * ascending, comparing bytes as unsigned integers; the first wins. Scope and
 * option ids contain no newline, so the hashed string is unambiguous. The
 * scope of a lot is the contest id (single tier and plurality),
 * `<contest>/<district>` (a constituency's fixed seats) or
 * `<contest>/adjustment` (the national distribution of a two-tier contest;
 * a constituency whose district id is `adjustment` shares that scope, which
 * changes no result: lots are told apart by their order in `lots`).
 *
 * Determinism does not depend on the order of `options` or of object keys:
 * options are compared by votes, quotients and lot keys only; constituencies
 * are computed in ascending code-unit order of their district ids; the
 * `tied` list of a {@link Lot} is in ascending code-unit order of option id.
 */
import { concat, utf8 } from './bytes.js';
import { hash } from './hash.js';

/** How a tie for a seat is broken (see the module comment). */
export type TieRule = 'votes' | 'lot';

/** A contest's counting method, as the election record states it (already schema-validated by record.ts). */
export type Method = {
  name: 'plurality' | 'dhondt' | 'sainte-lague';
  /** sainte-lague only: the first divisor (1 pure; 1.2 Sweden; 1.4 Norway). Default 1. A decimal with at most 4 places, 1 <= x < 3. */
  firstDivisor?: number;
  /** proportional only: share of the contest's valid votes an option needs for any seat (Sweden 0.04). Decimal, at most 4 places, 0 < x < 1. At or above qualifies. */
  threshold?: number;
  /** two-tier only: share of one constituency's valid votes that admits an option to that constituency's fixed seats even below `threshold` (Sweden 0.12). */
  constituencyThreshold?: number;
  /** two-tier: fixed seats per constituency (district id -> seats, each >= 0). The contest's seats minus their sum are adjustment (levelling) seats (>= 0). */
  constituencies?: { [district: string]: number };
  /** How a tie for a seat is broken: 'votes' = the option with more votes (in the scope where the seat is allocated) first, then a lot; 'lot' = a lot directly. Default 'votes'. */
  ties?: TieRule;
};

/** The input of {@link allocateSeats}. */
export type SeatInput = {
  /** The contest id (the lot scope, or its prefix). */
  contest: string;
  method: Method;
  /** The contest's total seats (a positive integer). */
  seats: number;
  /** Option ids, in record order (the result does not depend on this order). */
  options: readonly string[];
  /** Contest-wide valid votes per option (non-negative safe integers), every option present. */
  votes: { [option: string]: number };
  /** two-tier only: votes per constituency per option; keys = method.constituencies keys. Contest-wide `votes` may exceed the sum (districts outside every constituency count nationally only). */
  constituencyVotes?: { [district: string]: { [option: string]: number } };
  /** The 32-byte lot seed. */
  seed: Uint8Array;
};

/** One lot drawn: it awarded one seat to `winner` among `tied` (ascending code-unit order of id). */
export type Lot = { scope: string; tied: string[]; winner: string };

/** The result of {@link allocateSeats}. Every map has every option as a key. */
export type SeatResult = {
  /** Total seats per option. */
  seats: { [option: string]: number };
  /** Options that passed the (national) threshold, in `options` order (every option when there is no threshold; none when no valid vote was cast). */
  qualified: string[];
  /** two-tier: fixed seats per constituency. */
  fixed?: { [district: string]: { [option: string]: number } };
  /** two-tier: adjustment seats per option. */
  adjustment?: { [option: string]: number };
  /** two-tier: options set aside in the national computation because their fixed seats exceeded their proportional share (overhang), in order of exclusion. */
  excluded?: string[];
  /** Seats no option could take (no option qualified, or no valid vote was cast: then every seat) — normally 0. */
  unallocated: number;
  /** Every lot drawn, in the order drawn. */
  lots: Lot[];
};

const DECIMAL = /^\d+(\.\d{1,4})?$/;

/**
 * The exact rational value [numerator, denominator] of a decimal with at most
 * 4 places, read from `String(x)`: the numerator is the digits without the
 * point and the denominator is 10^(places written), not reduced — 1.2 gives
 * [12n, 10n], 0.04 gives [4n, 100n], 3 gives [3n, 1n]. Throws TypeError if `x`
 * is not a number, RangeError if `String(x)` does not match
 * /^\d+(\.\d{1,4})?$/ (negative, NaN, infinite, exponent notation, or more
 * than 4 places).
 */
export function decimalRatio(x: number): [bigint, bigint] {
  if (typeof x !== 'number') throw new TypeError('decimalRatio: expected a number');
  const text = String(x);
  if (!DECIMAL.test(text))
    throw new RangeError(`decimalRatio: expected a decimal with at most 4 places, got ${text}`);
  const point = text.indexOf('.');
  if (point < 0) return [BigInt(text), 1n];
  const places = text.length - point - 1;
  return [BigInt(text.slice(0, point) + text.slice(point + 1)), 10n ** BigInt(places)];
}

const LOT_PREFIX = utf8('urna/lot/v1\n');

/** Unsigned bytewise comparison; a proper prefix sorts first. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Code-unit order of strings (not locale order). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The deterministic lot: `options` ordered ascending by
 * SHA-256("urna/lot/v1\n" || seed || scope || "\n" || option), bytewise (see
 * the module comment); the first wins. Throws TypeError if `seed` is not a
 * Uint8Array, `scope` not a string or `options` not an array of strings;
 * RangeError if the seed is not 32 bytes, the scope or an option contains a
 * newline, or an option appears twice.
 */
export function lotOrder(seed: Uint8Array, scope: string, options: readonly string[]): string[] {
  if (!(seed instanceof Uint8Array)) throw new TypeError('lotOrder: seed must be a Uint8Array');
  if (seed.length !== 32) throw new RangeError(`lotOrder: seed must be 32 bytes, got ${seed.length}`);
  if (typeof scope !== 'string') throw new TypeError('lotOrder: scope must be a string');
  if (scope.includes('\n')) throw new RangeError('lotOrder: scope contains a newline');
  if (!Array.isArray(options)) throw new TypeError('lotOrder: options must be an array');
  const seen = new Set<string>();
  for (const o of options) {
    if (typeof o !== 'string') throw new TypeError('lotOrder: options must be strings');
    if (o.includes('\n')) throw new RangeError(`lotOrder: option ${JSON.stringify(o)} contains a newline`);
    if (seen.has(o)) throw new RangeError(`lotOrder: option ${JSON.stringify(o)} appears twice`);
    seen.add(o);
  }
  const keyed = options.map((o) => ({ o, key: hash(concat(LOT_PREFIX, seed, utf8(`${scope}\n${o}`))) }));
  keyed.sort((a, b) => compareBytes(a.key, b.key) || compareIds(a.o, b.o));
  return keyed.map((k) => k.o);
}

// ---- Validation ----

const P = 'allocateSeats';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A non-negative safe integer at `what`. */
function count(x: unknown, what: string): number {
  if (typeof x !== 'number') throw new TypeError(`${P}: ${what} must be a number`);
  if (!Number.isSafeInteger(x) || x < 0)
    throw new RangeError(`${P}: ${what} must be a non-negative safe integer, got ${String(x)}`);
  return x;
}

/** A decimal method field, exactly as a ratio, checked against lo <= x (or lo < x) and x < hi. */
function decimalField(
  x: unknown,
  what: string,
  lo: bigint,
  loInclusive: boolean,
  hi: bigint,
): [bigint, bigint] {
  if (typeof x !== 'number') throw new TypeError(`${P}: method.${what} must be a number`);
  if (!DECIMAL.test(String(x)))
    throw new RangeError(`${P}: method.${what} must be a decimal with at most 4 places, got ${String(x)}`);
  const [num, den] = decimalRatio(x);
  const above = loInclusive ? num >= lo * den : num > lo * den;
  if (!above || num >= hi * den)
    throw new RangeError(
      `${P}: method.${what} must be ${loInclusive ? 'at least' : 'more than'} ${lo} and less than ${hi}, got ${String(x)}`,
    );
  return [num, den];
}

/** Votes per option: an object with exactly the options as keys, each a non-negative safe integer. */
function voteMap(x: unknown, options: readonly string[], what: string): bigint[] {
  if (!isRecord(x)) throw new TypeError(`${P}: ${what} must be an object`);
  const known = new Set(options);
  for (const k of Object.keys(x))
    if (!known.has(k)) throw new RangeError(`${P}: ${what} names an unknown option ${JSON.stringify(k)}`);
  return options.map((o) => {
    if (!Object.hasOwn(x, o))
      throw new RangeError(`${P}: ${what} has no entry for option ${JSON.stringify(o)}`);
    return BigInt(count(x[o], `${what}[${JSON.stringify(o)}]`));
  });
}

const METHOD_KEYS = new Set([
  'name',
  'firstDivisor',
  'threshold',
  'constituencyThreshold',
  'constituencies',
  'ties',
]);

/** The validated, normalized input. Option ids are referred to by index into `options`. */
type Plan = {
  contest: string;
  name: Method['name'];
  /** Divisor k (k = seats already won, from 0), times `scale`: an integer. */
  divisor: (k: number) => bigint;
  /** What the divisors are multiplied by (the denominator of firstDivisor, else 1). */
  scale: bigint;
  threshold: [bigint, bigint] | null;
  constituencyThreshold: [bigint, bigint] | null;
  /** Constituencies in ascending code-unit order of district id. */
  constituencies: { id: string; seats: number; votes: bigint[] }[] | null;
  ties: TieRule;
  seats: number;
  options: readonly string[];
  votes: bigint[];
  seed: Uint8Array;
};

function validate(input: SeatInput): Plan {
  if (!isRecord(input)) throw new TypeError(`${P}: input must be an object`);
  const { contest, method, seats, options, votes, constituencyVotes, seed } = input as Record<
    string,
    unknown
  >;
  if (typeof contest !== 'string') throw new TypeError(`${P}: contest must be a string`);
  if (contest.includes('\n')) throw new RangeError(`${P}: contest contains a newline`);
  if (typeof seats !== 'number') throw new TypeError(`${P}: seats must be a number`);
  if (!Number.isSafeInteger(seats) || seats < 1)
    throw new RangeError(`${P}: seats must be a positive safe integer, got ${String(seats)}`);
  if (!Array.isArray(options)) throw new TypeError(`${P}: options must be an array`);
  if (options.length === 0) throw new RangeError(`${P}: options must not be empty`);
  const seen = new Set<string>();
  for (const o of options as unknown[]) {
    if (typeof o !== 'string') throw new TypeError(`${P}: options must be strings`);
    if (o.includes('\n')) throw new RangeError(`${P}: option ${JSON.stringify(o)} contains a newline`);
    if (seen.has(o)) throw new RangeError(`${P}: option ${JSON.stringify(o)} appears twice`);
    seen.add(o);
  }
  const ids = options as readonly string[];
  const voteList = voteMap(votes, ids, 'votes');
  if (!(seed instanceof Uint8Array)) throw new TypeError(`${P}: seed must be a Uint8Array`);
  if (seed.length !== 32) throw new RangeError(`${P}: seed must be 32 bytes, got ${seed.length}`);

  if (!isRecord(method)) throw new TypeError(`${P}: method must be an object`);
  for (const k of Object.keys(method))
    if (!METHOD_KEYS.has(k)) throw new RangeError(`${P}: method has an unknown field ${JSON.stringify(k)}`);
  const name = method.name;
  if (typeof name !== 'string') throw new TypeError(`${P}: method.name must be a string`);
  if (name !== 'plurality' && name !== 'dhondt' && name !== 'sainte-lague')
    throw new RangeError(
      `${P}: method.name must be plurality, dhondt or sainte-lague, got ${JSON.stringify(name)}`,
    );
  let ties: TieRule = 'votes';
  if (method.ties !== undefined) {
    if (typeof method.ties !== 'string') throw new TypeError(`${P}: method.ties must be a string`);
    if (method.ties !== 'votes' && method.ties !== 'lot')
      throw new RangeError(`${P}: method.ties must be votes or lot, got ${JSON.stringify(method.ties)}`);
    ties = method.ties;
  }
  const has = (k: string) => method[k] !== undefined;
  if (has('firstDivisor') && name !== 'sainte-lague')
    throw new RangeError(`${P}: method.firstDivisor applies to sainte-lague only`);
  if (name === 'plurality')
    for (const k of ['threshold', 'constituencyThreshold', 'constituencies'])
      if (has(k)) throw new RangeError(`${P}: method.${k} does not apply to plurality`);
  if (has('constituencyThreshold') && !has('constituencies'))
    throw new RangeError(
      `${P}: method.constituencyThreshold applies to two-tier contests (constituencies) only`,
    );

  let divisor: (k: number) => bigint;
  let scale = 1n;
  if (name === 'sainte-lague') {
    const [p, q] = has('firstDivisor')
      ? decimalField(method.firstDivisor, 'firstDivisor', 1n, true, 3n)
      : [1n, 1n];
    divisor = (k) => (k === 0 ? p : BigInt(2 * k + 1) * q);
    scale = q;
  } else {
    divisor = (k) => BigInt(k + 1);
  }
  const threshold = has('threshold') ? decimalField(method.threshold, 'threshold', 0n, false, 1n) : null;
  const constituencyThreshold = has('constituencyThreshold')
    ? decimalField(method.constituencyThreshold, 'constituencyThreshold', 0n, false, 1n)
    : null;

  let constituencies: Plan['constituencies'] = null;
  if (has('constituencies')) {
    const map = method.constituencies;
    if (!isRecord(map)) throw new TypeError(`${P}: method.constituencies must be an object`);
    if (!isRecord(constituencyVotes))
      throw new TypeError(`${P}: constituencyVotes must be an object when method.constituencies is given`);
    const districts = Object.keys(map).sort(compareIds);
    for (const k of Object.keys(constituencyVotes))
      if (!Object.hasOwn(map, k))
        throw new RangeError(
          `${P}: constituencyVotes names ${JSON.stringify(k)}, not in method.constituencies`,
        );
    let fixedTotal = 0;
    constituencies = districts.map((id) => {
      if (id.includes('\n')) throw new RangeError(`${P}: district ${JSON.stringify(id)} contains a newline`);
      const s = count(map[id], `method.constituencies[${JSON.stringify(id)}]`);
      fixedTotal += s;
      if (!Object.hasOwn(constituencyVotes, id))
        throw new RangeError(`${P}: constituencyVotes has no entry for ${JSON.stringify(id)}`);
      const v = voteMap(constituencyVotes[id], ids, `constituencyVotes[${JSON.stringify(id)}]`);
      return { id, seats: s, votes: v };
    });
    if (fixedTotal > seats)
      throw new RangeError(
        `${P}: the constituencies' fixed seats (${fixedTotal}) exceed the contest's seats (${seats})`,
      );
    for (let i = 0; i < ids.length; i++) {
      let sum = 0n;
      for (const c of constituencies) sum += c.votes[i]!;
      if (sum > voteList[i]!)
        throw new RangeError(
          `${P}: option ${JSON.stringify(ids[i])} has more votes in the constituencies (${sum}) than in the contest (${voteList[i]})`,
        );
    }
  } else if (constituencyVotes !== undefined) {
    throw new RangeError(`${P}: constituencyVotes given without method.constituencies`);
  }
  if (name === 'plurality' && seats > ids.length)
    throw new RangeError(`${P}: plurality cannot fill ${seats} seats with ${ids.length} options`);

  return {
    contest,
    name,
    divisor,
    scale,
    threshold,
    constituencyThreshold,
    constituencies,
    ties,
    seats,
    options: ids,
    votes: voteList,
    seed,
  };
}

// ---- Allocation ----

/** Whether votes * den >= num * total: at or above a threshold share num/den of total. */
function reaches(votes: bigint, total: bigint, [num, den]: [bigint, bigint]): boolean {
  return votes * den >= num * total;
}

class Allocator {
  readonly lots: Lot[] = [];
  constructor(readonly plan: Plan) {}

  /**
   * Draws `k` seats by lot among the options `tied` (indexes; k < tied.length),
   * one draw per seat, recording each. Returns the winners.
   */
  private draw(scope: string, tied: number[], k: number): number[] {
    const { options, seed } = this.plan;
    const byId = new Map(tied.map((i) => [options[i]!, i]));
    const order = lotOrder(seed, scope, [...byId.keys()]);
    for (let j = 0; j < k; j++)
      this.lots.push({ scope, tied: order.slice(j).sort(compareIds), winner: order[j]! });
    return order.slice(0, k).map((o) => byId.get(o)!);
  }

  /**
   * Picks `k` of `tied` (k < tied.length): by `rule`: 'votes' takes the
   * options with more `votes` first and draws lots only among those equal at
   * the boundary; 'lot' draws among all.
   */
  pick(scope: string, tied: number[], k: number, votes: bigint[], rule: TieRule): number[] {
    if (k >= tied.length) return tied;
    if (rule === 'lot') return this.draw(scope, tied, k);
    const sorted = [...tied].sort((a, b) => (votes[b]! > votes[a]! ? 1 : votes[b]! < votes[a]! ? -1 : 0));
    const out: number[] = [];
    let i = 0;
    while (out.length < k) {
      let j = i;
      while (j < sorted.length && votes[sorted[j]!] === votes[sorted[i]!]) j++;
      const group = sorted.slice(i, j);
      if (out.length + group.length <= k) out.push(...group);
      else out.push(...this.draw(scope, group, k - out.length));
      i = j;
    }
    return out;
  }

  /**
   * The seats the seat-by-seat rule certainly gives first, computed directly.
   * For a bound mu, option i's quotients above mu are its first n_i =
   * #{k : votes_i / d_k > mu} (divisors increase). If their total is at most
   * `seats`, the seat-by-seat rule gives exactly these seats first, whatever
   * the tie rule: each of them exceeds every other quotient (all <= mu), and
   * they all fit, so no tie involving them is ever broken. With T the
   * eligible options' votes, z_i = votes_i / mu and mu = T / M:
   * D'Hondt, M = seats: n_i = ceil(z_i) - 1 < z_i, so the total is below
   * seats (and above seats - options). Sainte-Laguë (d_0 >= 1, d_k = 2k + 1):
   * n_i <= (z_i + 1) / 2, so M = 2 * seats - options keeps the total at most
   * seats (and at least seats - options); M = seats when that is smaller.
   * Exact: votes_i / d_k > T / M is votes_i * scale * M > d_k * T, in BigInt.
   */
  private jumpStart(seats: number, eligible: number[], votes: bigint[]): number[] {
    const { divisor, scale } = this.plan;
    const won = this.plan.options.map(() => 0);
    let total = 0n;
    for (const i of eligible) total += votes[i]!;
    if (total === 0n || seats === 0) return won;
    const M = BigInt(
      this.plan.name === 'sainte-lague' ? Math.max(seats, 2 * seats - eligible.length) : seats,
    );
    let sum = 0;
    for (const i of eligible) {
      const v = votes[i]! * scale * M;
      // The first k in [0, seats] with d_k * T >= v (binary search; d increases).
      let lo = 0;
      let hi = seats;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (divisor(mid) * total < v) lo = mid + 1;
        else hi = mid;
      }
      won[i] = lo;
      sum += lo;
    }
    if (sum > seats) throw new Error(`${P}: internal error: jump start beyond the seats`);
    return won;
  }

  /**
   * Highest averages: `seats` seats among the options `eligible` (indexes)
   * by `votes`, seat by seat with a max-heap of current quotients
   * votes / divisor(won), after a jump start ({@link jumpStart}). Returns
   * seats won per option index (all options).
   */
  highestAverages(scope: string, seats: number, eligible: number[], votes: bigint[]): number[] {
    const { divisor, ties } = this.plan;
    const won = this.jumpStart(seats, eligible, votes);
    if (eligible.length === 0) return won;
    const div = won.map((n) => divisor(n));
    // a's quotient compared with b's: sign of votes[a]/div[a] - votes[b]/div[b].
    const cmp = (a: number, b: number) => {
      const l = votes[a]! * div[b]!;
      const r = votes[b]! * div[a]!;
      return l > r ? 1 : l < r ? -1 : 0;
    };
    const heap: number[] = [];
    const up = (n: number) => {
      while (n > 0) {
        const parent = (n - 1) >> 1;
        if (cmp(heap[n]!, heap[parent]!) <= 0) break;
        [heap[n], heap[parent]] = [heap[parent]!, heap[n]!];
        n = parent;
      }
    };
    const push = (i: number) => {
      heap.push(i);
      up(heap.length - 1);
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let n = 0;
        for (;;) {
          const l = 2 * n + 1;
          const r = l + 1;
          let m = n;
          if (l < heap.length && cmp(heap[l]!, heap[m]!) > 0) m = l;
          if (r < heap.length && cmp(heap[r]!, heap[m]!) > 0) m = r;
          if (m === n) break;
          [heap[n], heap[m]] = [heap[m]!, heap[n]!];
          n = m;
        }
      }
      return top;
    };
    for (const i of eligible) push(i);
    let left = seats - won.reduce((a, b) => a + b, 0);
    while (left > 0) {
      const top = pop();
      const tied = [top];
      while (heap.length > 0 && cmp(heap[0]!, top) === 0) tied.push(pop());
      const winners = this.pick(scope, tied, left, votes, ties);
      for (const i of winners) {
        won[i]!++;
        div[i] = divisor(won[i]!);
      }
      left -= winners.length;
      for (const i of tied) push(i);
    }
    return won;
  }
}

/**
 * Allocates a contest's seats (see the module comment for the methods, ties,
 * lots and the two-tier computation).
 *
 * Single tier: plurality gives one seat each to the `seats` options with the
 * most votes; D'Hondt and Sainte-Laguë give the seats one by one to the
 * highest quotient among the options that reach `threshold` (votes × den ≥
 * num × the sum of all options' votes). With no qualified option every seat
 * is `unallocated`.
 *
 * Two tier (`method.constituencies`): each constituency's fixed seats go by
 * the method over its votes among the options qualified nationally or
 * reaching `constituencyThreshold` there; then S' = seats minus the fixed
 * seats of options not qualified nationally is distributed by the method
 * over the contest-wide votes among the qualified options; while some option
 * has more fixed seats than its share, the one with the largest excess
 * (equal excesses: the least option id in code-unit order) is excluded, its
 * fixed seats are taken off S', and the distribution is redone. Each remaining
 * option's adjustment seats are its share minus its fixed seats. Lots drawn
 * in distributions that were redone are recorded too (they may have decided
 * the exclusion).
 *
 * Throws TypeError for a value of the wrong type and RangeError for a wrong
 * value: seats not a positive safe integer; options empty, duplicated, or
 * containing a newline; votes missing an option, naming an unknown one, or
 * not non-negative safe integers; a seed not of 32 bytes; an unknown method
 * name, field or tie rule; firstDivisor other than for sainte-lague or not a
 * decimal of at most 4 places in [1, 3); threshold or constituencyThreshold
 * not a decimal of at most 4 places in (0, 1); threshold, constituencies or
 * constituencyThreshold with plurality; constituencyThreshold without
 * constituencies; constituencyVotes without constituencies, or
 * constituencies without constituencyVotes or with different districts;
 * a district id containing a newline; fixed seats not
 * non-negative safe integers or summing to more than `seats`; an option with
 * more votes in the constituencies together than in the contest; plurality
 * with more seats than options. Throws Error only on an internal
 * inconsistency (seats not adding up), which is a bug.
 */
export function allocateSeats(input: SeatInput): SeatResult {
  const plan = validate(input);
  const { contest, options, votes, seats } = plan;
  const all = options.map((_, i) => i);
  const alloc = new Allocator(plan);
  const toMap = (xs: readonly number[]) => Object.fromEntries(options.map((o, i) => [o, xs[i]!]));

  // No valid vote at all (nothing counted yet): no option qualifies, none wins a seat, no lot is drawn.
  if (votes.every((v) => v === 0n)) {
    const none = toMap(all.map(() => 0));
    return {
      seats: none,
      qualified: [],
      ...(plan.name !== 'plurality' && plan.constituencies !== null
        ? {
            fixed: Object.fromEntries(plan.constituencies.map((c) => [c.id, { ...none }])),
            adjustment: { ...none },
            excluded: [],
          }
        : {}),
      unallocated: seats,
      lots: [],
    };
  }

  if (plan.name === 'plurality') {
    const won = all.map(() => 0);
    for (const i of alloc.pick(contest, all, seats, votes, 'votes')) won[i] = 1;
    return { seats: toMap(won), qualified: [...options], unallocated: 0, lots: alloc.lots };
  }

  let total = 0n;
  for (const v of votes) total += v;
  const threshold = plan.threshold;
  const isQualified = all.map((i) => threshold === null || reaches(votes[i]!, total, threshold));
  const qualified = all.filter((i) => isQualified[i]);

  if (plan.constituencies === null) {
    const won = alloc.highestAverages(contest, seats, qualified, votes);
    const unallocated = seats - won.reduce((a, b) => a + b, 0);
    if (qualified.length > 0 && unallocated !== 0)
      throw new Error(`${P}: internal error: seats do not add up`);
    return {
      seats: toMap(won),
      qualified: qualified.map((i) => options[i]!),
      unallocated,
      lots: alloc.lots,
    };
  }

  // a. Fixed seats per constituency.
  const fixedTotal = all.map(() => 0);
  const fixedEntries: [string, { [option: string]: number }][] = [];
  for (const c of plan.constituencies) {
    let valid = 0n;
    for (const v of c.votes) valid += v;
    const ct = plan.constituencyThreshold;
    const eligible = all.filter((i) => isQualified[i] || (ct !== null && reaches(c.votes[i]!, valid, ct)));
    const won = alloc.highestAverages(`${contest}/${c.id}`, c.seats, eligible, c.votes);
    for (const i of all) fixedTotal[i]! += won[i]!;
    fixedEntries.push([c.id, toMap(won)]);
  }
  const fixed = Object.fromEntries(fixedEntries);

  // b. National distribution, excluding overhanging options until none is left.
  let remaining = qualified;
  let national = seats;
  for (const i of all) if (!isQualified[i]) national -= fixedTotal[i]!;
  const excluded: number[] = [];
  let share: number[];
  for (;;) {
    share = alloc.highestAverages(`${contest}/adjustment`, national, remaining, votes);
    let worst = -1;
    let worstExcess = 0;
    for (const i of remaining) {
      const excess = fixedTotal[i]! - share[i]!;
      if (
        excess > worstExcess ||
        (excess === worstExcess && excess > 0 && compareIds(options[i]!, options[worst]!) < 0)
      ) {
        worst = i;
        worstExcess = excess;
      }
    }
    if (worst < 0) break;
    excluded.push(worst);
    national -= fixedTotal[worst]!;
    remaining = remaining.filter((i) => i !== worst);
  }
  const inRemaining = new Set(remaining);
  const adjustment = all.map((i) => (inRemaining.has(i) ? share[i]! - fixedTotal[i]! : 0));
  const won = all.map((i) => fixedTotal[i]! + adjustment[i]!);
  const unallocated = seats - won.reduce((a, b) => a + b, 0);
  if (qualified.length > 0 && unallocated !== 0) throw new Error(`${P}: internal error: seats do not add up`);
  if (unallocated < 0 || adjustment.some((a) => a < 0))
    throw new Error(`${P}: internal error: negative seats`);
  return {
    seats: toMap(won),
    qualified: qualified.map((i) => options[i]!),
    fixed,
    adjustment: toMap(adjustment),
    excluded: excluded.map((i) => options[i]!),
    unallocated,
    lots: alloc.lots,
  };
}
