/**
 * Seat allocation (ledger/seats.ts): hand-worked examples of plurality,
 * D'Hondt and Sainte-Laguë (pure, 1.2, 1.4), both tie rules, threshold
 * edges, two-tier contests (Sweden-like constituency threshold, overhang
 * and too few adjustment seats), the lot, every kind of bad input, and
 * properties over random contests: seats add up, a direct reading of the
 * highest-averages rule agrees, more votes never cost a seat, the order of
 * options does not matter, and the result is deterministic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, toHex, utf8 } from '../../ledger/bytes.js';
import { hash } from '../../ledger/hash.js';
import {
  allocateSeats,
  decimalRatio,
  lotOrder,
  type Method,
  type SeatInput,
  type SeatResult,
} from '../../ledger/seats.js';

const SEED = new Uint8Array(32);
const seedOf = (n: number) => new Uint8Array(32).fill(n);

/** A single-tier input with options in the order of `votes`' keys. */
function input(method: Method, seats: number, votes: { [o: string]: number }, seed = SEED): SeatInput {
  return { contest: 'c', method, seats, options: Object.keys(votes), votes, seed };
}

const seats = (i: SeatInput): { [o: string]: number } => allocateSeats(i).seats;

describe('decimalRatio', () => {
  it('reads decimals exactly, not reduced', () => {
    expect(decimalRatio(1.2)).toEqual([12n, 10n]);
    expect(decimalRatio(1.4)).toEqual([14n, 10n]);
    expect(decimalRatio(0.04)).toEqual([4n, 100n]);
    expect(decimalRatio(0.12)).toEqual([12n, 100n]);
    expect(decimalRatio(0.0001)).toEqual([1n, 10000n]);
    expect(decimalRatio(1)).toEqual([1n, 1n]);
    expect(decimalRatio(2.5)).toEqual([25n, 10n]);
  });
  it('refuses anything else', () => {
    for (const x of [-1, 0.00001, 1e-7, 1e21, NaN, Infinity, 0.12345, 1 / 3])
      expect(() => decimalRatio(x), String(x)).toThrow(RangeError);
    expect(() => decimalRatio('1.2' as unknown as number)).toThrow(TypeError);
    expect(() => decimalRatio(0.12345)).toThrow(/^decimalRatio: /);
  });
});

describe('lotOrder', () => {
  it('orders by SHA-256("urna/lot/v1\\n" || seed || scope "\\n" option), bytewise ascending', () => {
    const seed = seedOf(7);
    const key = (o: string) => toHex(hash(concat(utf8('urna/lot/v1\n'), seed, utf8(`c/X\n${o}`))));
    const options = ['a', 'b', 'c', 'd', 'e', 'f'];
    const expected = [...options].sort((x, y) => (key(x) < key(y) ? -1 : 1));
    expect(lotOrder(seed, 'c/X', options)).toEqual(expected);
    // The prefix is the 12 bytes the module comment lists.
    expect(toHex(utf8('urna/lot/v1\n'))).toBe('75726e612f6c6f742f76310a');
  });
  it('does not depend on the order of the options, but on the seed and the scope', () => {
    const options = Array.from({ length: 20 }, (_, i) => `o${i}`);
    const a = lotOrder(SEED, 'c', options);
    expect(lotOrder(SEED, 'c', [...options].reverse())).toEqual(a);
    expect(lotOrder(seedOf(1), 'c', options)).not.toEqual(a);
    expect(lotOrder(SEED, 'c/adjustment', options)).not.toEqual(a);
  });
  it('refuses bad input', () => {
    expect(() => lotOrder(new Uint8Array(31), 'c', ['a'])).toThrow(RangeError);
    expect(() => lotOrder([] as unknown as Uint8Array, 'c', ['a'])).toThrow(TypeError);
    expect(() => lotOrder(SEED, 'c\n', ['a'])).toThrow(RangeError);
    expect(() => lotOrder(SEED, 'c', ['a\nb'])).toThrow(RangeError);
    expect(() => lotOrder(SEED, 'c', ['a', 'a'])).toThrow(/^lotOrder: option "a" appears twice/);
    expect(() => lotOrder(SEED, 'c', [1 as unknown as string])).toThrow(TypeError);
  });
});

describe('plurality', () => {
  const plurality: Method = { name: 'plurality' };
  it('one seat: the most votes', () => {
    const r = allocateSeats(input(plurality, 1, { A: 10, B: 30, C: 20 }));
    expect(r).toEqual({ seats: { A: 0, B: 1, C: 0 }, qualified: ['A', 'B', 'C'], unallocated: 0, lots: [] });
  });
  it('several seats: the top ones', () => {
    // 50 > 40 > 30 > 20 > 10: three seats go to E, D, C.
    expect(seats(input(plurality, 3, { A: 10, B: 20, C: 30, D: 40, E: 50 }))).toEqual({
      A: 0,
      B: 0,
      C: 1,
      D: 1,
      E: 1,
    });
    // As many seats as options: everyone, even with 0 votes, no lot.
    const all = allocateSeats(input(plurality, 3, { A: 0, B: 0, C: 5 }));
    expect(all.seats).toEqual({ A: 1, B: 1, C: 1 });
    expect(all.lots).toEqual([]);
  });
  it('a tie at the boundary is drawn by lot, recorded, and follows the seed', () => {
    // A and B have 10 each for 1 seat: a lot (under either rule).
    const winners = new Set<string>();
    for (const ties of ['votes', 'lot'] as const)
      for (let s = 0; s < 32; s++) {
        const r = allocateSeats(input({ name: 'plurality', ties }, 1, { A: 10, B: 10, C: 5 }, seedOf(s)));
        const winner = lotOrder(seedOf(s), 'c', ['A', 'B'])[0]!;
        expect(r.lots).toEqual([{ scope: 'c', tied: ['A', 'B'], winner }]);
        expect(r.seats).toEqual({ A: winner === 'A' ? 1 : 0, B: winner === 'B' ? 1 : 0, C: 0 });
        // Same seed, same winner.
        expect(allocateSeats(input(plurality, 1, { A: 10, B: 10, C: 5 }, seedOf(s))).seats).toEqual(r.seats);
        winners.add(winner);
      }
    expect(winners).toEqual(new Set(['A', 'B'])); // some seed gives each
  });
  it('a tie below a clear winner: A is in, B and C draw for the second seat', () => {
    const r = allocateSeats(input(plurality, 2, { A: 10, B: 7, C: 7, D: 1 }));
    expect(r.lots).toHaveLength(1);
    expect(r.lots[0]!.tied).toEqual(['B', 'C']);
    expect(r.seats.A).toBe(1);
    expect(r.seats[r.lots[0]!.winner]).toBe(1);
    expect(r.seats.D).toBe(0);
  });
});

describe("d'Hondt", () => {
  it('the textbook example: 100000/80000/30000/20000 for 8 seats gives 4/3/1/0', () => {
    // Quotients v/1, v/2, v/3, v/4:
    //   A 100000 50000 33333 25000 | B 80000 40000 26667 | C 30000 15000 | D 20000
    // The 8 largest: 100000 A, 80000 B, 50000 A, 40000 B, 33333 A, 30000 C,
    // 26667 B, 25000 A. The 9th would be 20000 (A/5, B/4, D/1).
    const r = allocateSeats(input({ name: 'dhondt' }, 8, { A: 100000, B: 80000, C: 30000, D: 20000 }));
    expect(r.seats).toEqual({ A: 4, B: 3, C: 1, D: 0 });
    expect(r.lots).toEqual([]);
  });
});

describe('Sainte-Laguë', () => {
  const votes = { A: 70, B: 65, C: 30, D: 25 };
  it('pure: divisors 1, 3, 5 — 1/1/1/1', () => {
    // A 70, 23.33 | B 65, 21.67 | C 30, 10 | D 25, 8.33
    // 4 largest: 70 A, 65 B, 30 C, 25 D (next: 23.33 A).
    expect(seats(input({ name: 'sainte-lague' }, 4, votes))).toEqual({ A: 1, B: 1, C: 1, D: 1 });
  });
  it('first divisor 1.2 (Sweden): 2/1/1/0', () => {
    // A 70/1.2 = 58.33, 70/3 = 23.33 | B 54.17, 21.67 | C 25 | D 20.83
    // 4 largest: 58.33 A, 54.17 B, 25 C, 23.33 A (next: 21.67 B, then 20.83 D).
    expect(seats(input({ name: 'sainte-lague', firstDivisor: 1.2 }, 4, votes))).toEqual({
      A: 2,
      B: 1,
      C: 1,
      D: 0,
    });
  });
  it('first divisor 1.4 (Norway): 2/2/0/0', () => {
    // A 70/1.4 = 50, 23.33 | B 46.43, 21.67 | C 21.43 | D 17.86
    // 4 largest: 50 A, 46.43 B, 23.33 A, 21.67 B (next: 21.43 C).
    expect(seats(input({ name: 'sainte-lague', firstDivisor: 1.4 }, 4, votes))).toEqual({
      A: 2,
      B: 2,
      C: 0,
      D: 0,
    });
  });
  it('compares exactly: 14 / 1.2 equals 35 / 3', () => {
    // Seat 1: B's 35 / 1.2 = 29.17. Seat 2: A's 14 / 1.2 and B's 35 / 3 are both
    // 11.666... exactly (14 * 3 = 42 = 35 * 1.2), a tie that 'votes' gives to B.
    // In floating point 14 / 1.2 = 11.666666666666668 > 35 / 3 = 11.666666666666666.
    expect(14 / 1.2).toBeGreaterThan(35 / 3);
    const r = allocateSeats(input({ name: 'sainte-lague', firstDivisor: 1.2 }, 2, { A: 14, B: 35 }));
    expect(r.seats).toEqual({ A: 0, B: 2 });
    expect(r.lots).toEqual([]);
    // Under 'lot' the tie is a lot, not a float comparison.
    const l = allocateSeats(
      input({ name: 'sainte-lague', firstDivisor: 1.2, ties: 'lot' }, 2, { A: 14, B: 35 }),
    );
    expect(l.lots).toEqual([{ scope: 'c', tied: ['A', 'B'], winner: lotOrder(SEED, 'c', ['A', 'B'])[0] }]);
  });
});

describe('ties', () => {
  // d'Hondt, A 6000 and B 3000: seat 1 goes to A (6000). For seat 2 A's
  // 6000/2 = 3000 ties B's 3000/1.
  const votes = { A: 6000, B: 3000 };
  it("'votes': the option with more votes takes the tied seat, no lot", () => {
    const r = allocateSeats(input({ name: 'dhondt', ties: 'votes' }, 2, votes));
    expect(r.seats).toEqual({ A: 2, B: 0 });
    expect(r.lots).toEqual([]);
  });
  it("'lot': a lot decides the same case", () => {
    const outcomes = new Set<string>();
    for (let s = 0; s < 32; s++) {
      const r = allocateSeats(input({ name: 'dhondt', ties: 'lot' }, 2, votes, seedOf(s)));
      const winner = lotOrder(seedOf(s), 'c', ['A', 'B'])[0]!;
      expect(r.lots).toEqual([{ scope: 'c', tied: ['A', 'B'], winner }]);
      expect(r.seats).toEqual(winner === 'A' ? { A: 2, B: 0 } : { A: 1, B: 1 });
      outcomes.add(winner);
    }
    expect(outcomes.size).toBe(2);
  });
  it('no lot when the tied options all fit: 3 seats give A 2, B 1 under either rule', () => {
    // Seats 2 and 3 both go to the tied 3000s.
    for (const ties of ['votes', 'lot'] as const) {
      const r = allocateSeats(input({ name: 'dhondt', ties }, 3, votes));
      expect(r.seats).toEqual({ A: 2, B: 1 });
      expect(r.lots).toEqual([]);
    }
  });
  it("'votes' then a lot among those still equal; one draw per seat", () => {
    // d'Hondt 2 seats: A 200 wins seat 1 (200); then A 100 ties B 100, C 100, D 100.
    // 'votes': A has the most votes: A takes seat 2, no lot.
    expect(allocateSeats(input({ name: 'dhondt' }, 2, { A: 200, B: 100, C: 100, D: 100 })).lots).toEqual([]);
    // 3 seats among B, C, D (equal votes, 100 each) for 2 seats after A's 2: two draws.
    const r = allocateSeats(input({ name: 'dhondt' }, 4, { A: 200, B: 100, C: 100, D: 100 }));
    const order = lotOrder(SEED, 'c', ['B', 'C', 'D']);
    // Seat 1 A (200); seats 2-4: A 100, B 100, C 100, D 100 tie for 3 seats:
    // A has more votes and takes one; B, C, D draw for the other two.
    expect(r.lots).toEqual([
      { scope: 'c', tied: ['B', 'C', 'D'], winner: order[0] },
      { scope: 'c', tied: [order[1]!, order[2]!].sort(), winner: order[1] },
    ]);
    expect(r.seats.A).toBe(2);
    expect(r.seats[order[2]!]).toBe(0);
  });
  it('no vote at all (nothing counted yet): no seat, no lot, every seat unallocated', () => {
    for (const method of [{ name: 'sainte-lague' }, { name: 'dhondt' }, { name: 'plurality' }] as Method[]) {
      const seats = method.name === 'plurality' ? 1 : 5;
      const r = allocateSeats(input(method, seats, { A: 0, B: 0 }));
      expect(r).toMatchObject({ seats: { A: 0, B: 0 }, qualified: [], unallocated: seats, lots: [] });
    }
    // One vote is enough to take every seat.
    expect(allocateSeats(input({ name: 'sainte-lague' }, 5, { A: 1, B: 0 })).seats).toEqual({ A: 5, B: 0 });
  });
});

describe('threshold', () => {
  // 10000 valid votes; 4% is 400.
  const method: Method = { name: 'sainte-lague', threshold: 0.04 };
  it('exactly at the threshold qualifies', () => {
    // C: 400 * 100 >= 4 * 10000. Sainte-Laguë, 20 seats: C's 400/1 is the 13th
    // largest quotient; the 20th is A's 5000/19 = 263.2, the 21st B's 4600/19
    // = 242.1. A 5000/1..19 (10 seats), B 4600/1..17 (9), C 400/1 (1).
    const r = allocateSeats(input(method, 20, { A: 5000, B: 4600, C: 400 }));
    expect(r.qualified).toEqual(['A', 'B', 'C']);
    expect(r.seats).toEqual({ A: 10, B: 9, C: 1 });
  });
  it('one vote below does not', () => {
    // C: 399 * 100 < 4 * 10000: no seat. A and B share the 20: the 20th
    // largest quotient is B's 4601/19 = 242.2, the 21st A's 5000/21 = 238.1.
    const r = allocateSeats(input(method, 20, { A: 5000, B: 4601, C: 399 }));
    expect(r.qualified).toEqual(['A', 'B']);
    expect(r.seats).toEqual({ A: 10, B: 10, C: 0 });
  });
  it('nothing qualified: every seat unallocated', () => {
    // 50% threshold, three options of a third each.
    const r = allocateSeats(input({ name: 'dhondt', threshold: 0.5 }, 3, { A: 10, B: 10, C: 10 }));
    expect(r).toEqual({ seats: { A: 0, B: 0, C: 0 }, qualified: [], unallocated: 3, lots: [] });
  });
});

describe('two tier', () => {
  it('Sweden-like: a regional option above 12% in one constituency wins a fixed seat there, no adjustment', () => {
    // Sainte-Laguë 1.2, 4% nationally, 12% in a constituency; 10 seats: N 4,
    // S 4, 2 adjustment. Contest-wide votes include districts outside N and S.
    //   national: A 22000, B 16000, C 6000, D 1700; total 45700.
    //   D: 1700/45700 = 3.7% < 4%, not qualified; C 13.1%, qualified.
    // N (valid 10000; D 17% >= 12%, eligible):
    //   A 4000: 3333.3, 1333.3 | B 3000: 2500, 1000 | C 1300: 1083.3 | D 1700: 1416.7
    //   4 largest: 3333.3 A, 2500 B, 1416.7 D, 1333.3 A -> A 2, B 1, D 1.
    // S (valid 10000; D 0%, not eligible):
    //   A 5000: 4166.7, 1666.7, 1000 | B 4000: 3333.3, 1333.3 | C 1000: 833.3
    //   4 largest: 4166.7 A, 3333.3 B, 1666.7 A, 1333.3 B -> A 2, B 2.
    // Fixed: A 4, B 3, C 0, D 1. S' = 10 - 1 (D's seat) = 9 among A, B, C:
    //   A 18333.3, 7333.3, 4400, 3142.9, 2444.4 | B 13333.3, 5333.3, 3200, 2285.7 | C 5000, 2000
    //   9 largest: A 18333.3, B 13333.3, A 7333.3, B 5333.3, C 5000, A 4400,
    //   B 3200, A 3142.9, A 2444.4 -> A 5, B 3, C 1.
    // Adjustment: A 5-4 = 1, B 3-3 = 0, C 1-0 = 1; D keeps its fixed seat.
    const r = allocateSeats({
      contest: 'riksdag',
      method: {
        name: 'sainte-lague',
        firstDivisor: 1.2,
        threshold: 0.04,
        constituencyThreshold: 0.12,
        constituencies: { N: 4, S: 4 },
      },
      seats: 10,
      options: ['A', 'B', 'C', 'D'],
      votes: { A: 22000, B: 16000, C: 6000, D: 1700 },
      constituencyVotes: {
        N: { A: 4000, B: 3000, C: 1300, D: 1700 },
        S: { A: 5000, B: 4000, C: 1000, D: 0 },
      },
      seed: SEED,
    });
    expect(r).toEqual({
      seats: { A: 5, B: 3, C: 1, D: 1 },
      qualified: ['A', 'B', 'C'],
      fixed: { N: { A: 2, B: 1, C: 0, D: 1 }, S: { A: 2, B: 2, C: 0, D: 0 } },
      adjustment: { A: 1, B: 0, C: 1, D: 0 },
      excluded: [],
      unallocated: 0,
      lots: [],
    } satisfies SeatResult);
  });

  it('without the constituency threshold the regional option gets nothing', () => {
    // Same, no constituencyThreshold: N's 4 seats among A, B, C:
    //   3333.3 A, 2500 B, 1333.3 A, 1083.3 C -> A 2, B 1, C 1. Fixed A 4, B 3, C 1.
    //   S' = 10 among A, B, C: the 9 above plus B 2285.7 -> A 5, B 4, C 1.
    //   Adjustment: A 1, B 1, C 0.
    const r = allocateSeats({
      contest: 'riksdag',
      method: { name: 'sainte-lague', firstDivisor: 1.2, threshold: 0.04, constituencies: { N: 4, S: 4 } },
      seats: 10,
      options: ['A', 'B', 'C', 'D'],
      votes: { A: 22000, B: 16000, C: 6000, D: 1700 },
      constituencyVotes: {
        N: { A: 4000, B: 3000, C: 1300, D: 1700 },
        S: { A: 5000, B: 4000, C: 1000, D: 0 },
      },
      seed: SEED,
    });
    expect(r.seats).toEqual({ A: 5, B: 4, C: 1, D: 0 });
    expect(r.fixed!.N).toEqual({ A: 2, B: 1, C: 1, D: 0 });
    expect(r.adjustment).toEqual({ A: 1, B: 1, C: 0, D: 0 });
  });

  it('overhang: an option with more fixed seats than its share is excluded and the rest redone', () => {
    // d'Hondt, 5 seats: X 2, Y 2, 1 adjustment.
    //   X: R 900, 450 | A 100 -> R 2.   Y: A 600, 300 | B 400 -> A 1, B 1.
    //   Fixed: R 2, A 1, B 1.
    // National (R 900, A 2000, B 1500), 5 seats: A 2000, B 1500, A 1000, R 900,
    //   B 750 -> A 2, B 2, R 1. R's 2 fixed seats exceed its share of 1: exclude R.
    // S' = 5 - 2 = 3 among A, B: A 2000, B 1500, A 1000 -> A 2, B 1.
    //   Adjustment: A 2-1 = 1, B 1-1 = 0. Total R 2 + A 2 + B 1 = 5.
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt', constituencies: { X: 2, Y: 2 } },
      seats: 5,
      options: ['A', 'B', 'R'],
      votes: { A: 2000, B: 1500, R: 900 },
      constituencyVotes: { X: { A: 100, B: 0, R: 900 }, Y: { A: 600, B: 400, R: 0 } },
      seed: SEED,
    });
    expect(r).toEqual({
      seats: { A: 2, B: 1, R: 2 },
      qualified: ['A', 'B', 'R'],
      fixed: { X: { A: 0, B: 0, R: 2 }, Y: { A: 1, B: 1, R: 0 } },
      adjustment: { A: 1, B: 0, R: 0 },
      excluded: ['R'],
      unallocated: 0,
      lots: [],
    });
  });

  it('too few adjustment seats to level: exclusions repeat until the rest fits', () => {
    // d'Hondt, 6 seats: X 2, Y 3, 1 adjustment seat.
    //   X: A 80, 40 | C 80, 40 | B 60 | D 40 -> A 1, C 1 (A and C tie for 2 seats: no lot).
    //   Y: C 60, 30 | A 40 | B 20 | D 20 -> C 2, A 1.
    //   Fixed: A 2, C 3, B 0, D 0 (5 seats).
    // National (A 120, B 90, C 140, D 80), 6 seats: C 140, A 120, B 90, D 80,
    //   C 70, A 60 -> A 2, B 1, C 2, D 1. C: 3 fixed > 2: exclude C.
    // S' = 6 - 3 = 3 among A, B, D: A 120, B 90, D 80 -> 1 each. A: 2 fixed > 1: exclude A.
    // S' = 3 - 2 = 1 among B, D: B 90 -> B 1. Adjustment: B 1.
    // Levelling fully would have needed more seats than the 1 available.
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt', constituencies: { X: 2, Y: 3 } },
      seats: 6,
      options: ['A', 'B', 'C', 'D'],
      votes: { A: 120, B: 90, C: 140, D: 80 },
      constituencyVotes: { X: { A: 80, B: 60, C: 80, D: 40 }, Y: { A: 40, B: 20, C: 60, D: 20 } },
      seed: SEED,
    });
    expect(r).toEqual({
      seats: { A: 2, B: 1, C: 3, D: 0 },
      qualified: ['A', 'B', 'C', 'D'],
      fixed: { X: { A: 1, B: 0, C: 1, D: 0 }, Y: { A: 1, B: 0, C: 2, D: 0 } },
      adjustment: { A: 0, B: 1, C: 0, D: 0 },
      excluded: ['C', 'A'],
      unallocated: 0,
      lots: [],
    });
  });

  it('equal excesses: the least option id is excluded first', () => {
    // d'Hondt, 2 seats: X 1, Y 1, no adjustment seat. X: P 10, Q 0, R 9 -> P.
    // Y: P 0, Q 10, R 9 -> Q. National (P 10, Q 10, R 50): R 50, R 25 -> R 2.
    // P and Q both have 1 fixed seat over a share of 0: exclude P (the lesser
    // id), S' = 2 - 1 = 1 among Q, R: R 50 -> Q's excess is 1: exclude Q,
    // S' = 0. Final P 1, Q 1, R 0 — whatever the order of the options.
    for (const options of [
      ['P', 'Q', 'R'],
      ['R', 'Q', 'P'],
    ]) {
      const r = allocateSeats({
        contest: 'c',
        method: { name: 'dhondt', constituencies: { X: 1, Y: 1 } },
        seats: 2,
        options,
        votes: { P: 10, Q: 10, R: 50 },
        constituencyVotes: { X: { P: 10, Q: 0, R: 9 }, Y: { P: 0, Q: 10, R: 9 } },
        seed: SEED,
      });
      expect(r.seats).toEqual({ P: 1, Q: 1, R: 0 });
      expect(r.excluded).toEqual(['P', 'Q']);
      expect(r.lots).toEqual([]);
    }
  });

  it('no adjustment seats, and a lot that decides an exclusion is recorded', () => {
    // d'Hondt, 2 seats: X 1, Y 1. X: P 10, Q 0, R 9 -> P. Y: Q 10, P 0, R 9 -> Q.
    // National (P 10, Q 10, R 18): R 18, then P 10 = Q 10 tie, 'votes' equal,
    // so a lot at scope c/adjustment gives one of P, Q the second seat.
    // Either way one of P, Q has 1 fixed seat and no share: excess 1. Excluding
    // it leaves S' = 1 among the other two: R 18 takes it, so the other one
    // (excess 1) is excluded too; then S' = 0 among R. Final: P 1, Q 1, R 0.
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt', constituencies: { X: 1, Y: 1 } },
      seats: 2,
      options: ['P', 'Q', 'R'],
      votes: { P: 10, Q: 10, R: 18 },
      constituencyVotes: { X: { P: 10, Q: 0, R: 9 }, Y: { P: 0, Q: 10, R: 9 } },
      seed: SEED,
    });
    expect(r.seats).toEqual({ P: 1, Q: 1, R: 0 });
    expect(r.adjustment).toEqual({ P: 0, Q: 0, R: 0 });
    expect(r.lots).toHaveLength(1);
    expect(r.lots[0]).toMatchObject({ scope: 'c/adjustment', tied: ['P', 'Q'] });
    const loser = r.lots[0]!.winner === 'P' ? 'Q' : 'P';
    expect(r.excluded).toEqual([loser, r.lots[0]!.winner]);
  });

  it('below the national threshold everywhere: fixed seats by constituency threshold only, rest unallocated', () => {
    // 50% national threshold, nobody reaches it (A 40%, B 35%, C 25% of 100).
    // X (2 seats), 12% constituency threshold: A 30, B 5 (5/35 = 14%) -> d'Hondt A 30, A 15 -> A 2.
    // Y (1 seat): C 20 only (B 0, A 0 are below 12%) -> C 1.
    // Nothing qualifies nationally: the 2 adjustment seats are unallocated.
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt', threshold: 0.5, constituencyThreshold: 0.12, constituencies: { X: 2, Y: 1 } },
      seats: 5,
      options: ['A', 'B', 'C'],
      votes: { A: 40, B: 35, C: 25 },
      constituencyVotes: { X: { A: 30, B: 5, C: 0 }, Y: { A: 0, B: 0, C: 20 } },
      seed: SEED,
    });
    expect(r.qualified).toEqual([]);
    expect(r.seats).toEqual({ A: 2, B: 0, C: 1 });
    expect(r.unallocated).toBe(2);
  });

  it('lot scopes name the constituency', () => {
    // X: A 5 = B 5 for 1 seat: a lot at c/X.
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt', constituencies: { X: 1 } },
      seats: 3,
      options: ['A', 'B'],
      votes: { A: 50, B: 40 },
      constituencyVotes: { X: { A: 5, B: 5 } },
      seed: SEED,
    });
    expect(r.lots).toEqual([
      { scope: 'c/X', tied: ['A', 'B'], winner: lotOrder(SEED, 'c/X', ['A', 'B'])[0] },
    ]);
    expect(r.seats.A! + r.seats.B!).toBe(3);
  });
});

describe('rejections', () => {
  const good: SeatInput = input({ name: 'dhondt' }, 2, { A: 2, B: 3 });
  const twoTier: SeatInput = {
    ...good,
    method: { name: 'dhondt', constituencies: { X: 1 } },
    constituencyVotes: { X: { A: 1, B: 1 } },
  };
  const cases: [string, SeatInput, typeof TypeError | typeof RangeError, RegExp][] = [
    ['input not an object', null as unknown as SeatInput, TypeError, /input must be an object/],
    ['seats 0', { ...good, seats: 0 }, RangeError, /seats must be a positive safe integer/],
    ['seats 1.5', { ...good, seats: 1.5 }, RangeError, /seats/],
    ['seats a string', { ...good, seats: '2' as unknown as number }, TypeError, /seats must be a number/],
    ['contest not a string', { ...good, contest: 1 as unknown as string }, TypeError, /contest/],
    ['no options', { ...good, options: [], votes: {} }, RangeError, /options must not be empty/],
    ['duplicate option', { ...good, options: ['A', 'A'] }, RangeError, /"A" appears twice/],
    [
      'option not a string',
      { ...good, options: [1 as unknown as string] },
      TypeError,
      /options must be strings/,
    ],
    [
      'option missing from votes',
      { ...good, votes: { A: 2 } },
      RangeError,
      /votes has no entry for option "B"/,
    ],
    ['unknown option in votes', { ...good, votes: { A: 2, B: 3, C: 3 } }, RangeError, /unknown option "C"/],
    ['negative votes', { ...good, votes: { A: -1, B: 3 } }, RangeError, /votes\["A"\]/],
    ['fractional votes', { ...good, votes: { A: 0.5, B: 3 } }, RangeError, /non-negative safe integer/],
    ['unsafe votes', { ...good, votes: { A: 2 ** 53, B: 3 } }, RangeError, /non-negative safe integer/],
    [
      'votes a string',
      { ...good, votes: { A: '1' as unknown as number, B: 3 } },
      TypeError,
      /must be a number/,
    ],
    ['seed of 31 bytes', { ...good, seed: new Uint8Array(31) }, RangeError, /seed must be 32 bytes/],
    [
      'seed not bytes',
      { ...good, seed: 'x' as unknown as Uint8Array },
      TypeError,
      /seed must be a Uint8Array/,
    ],
    ['unknown method', { ...good, method: { name: 'stv' as 'dhondt' } }, RangeError, /method.name/],
    ['method not an object', { ...good, method: 'dhondt' as unknown as Method }, TypeError, /method must/],
    [
      'unknown method field',
      { ...good, method: { name: 'dhondt', treshold: 0.1 } as Method },
      RangeError,
      /"treshold"/,
    ],
    [
      'bad tie rule',
      { ...good, method: { name: 'dhondt', ties: 'coin' as 'lot' } },
      RangeError,
      /method.ties/,
    ],
    [
      'firstDivisor for dhondt',
      { ...good, method: { name: 'dhondt', firstDivisor: 1.2 } },
      RangeError,
      /firstDivisor/,
    ],
    [
      'firstDivisor below 1',
      { ...good, method: { name: 'sainte-lague', firstDivisor: 0.9 } },
      RangeError,
      /at least 1 and less than 3/,
    ],
    [
      'firstDivisor 3',
      { ...good, method: { name: 'sainte-lague', firstDivisor: 3 } },
      RangeError,
      /less than 3/,
    ],
    [
      'firstDivisor of 5 places',
      { ...good, method: { name: 'sainte-lague', firstDivisor: 1.00001 } },
      RangeError,
      /at most 4 places/,
    ],
    ['threshold 0', { ...good, method: { name: 'dhondt', threshold: 0 } }, RangeError, /more than 0/],
    ['threshold 1', { ...good, method: { name: 'dhondt', threshold: 1 } }, RangeError, /less than 1/],
    [
      'threshold for plurality',
      { ...good, method: { name: 'plurality', threshold: 0.1 } },
      RangeError,
      /plurality/,
    ],
    [
      'plurality with more seats than options',
      { ...good, method: { name: 'plurality' }, seats: 3 },
      RangeError,
      /plurality cannot fill 3 seats with 2 options/,
    ],
    [
      'constituencyThreshold without constituencies',
      { ...good, method: { name: 'dhondt', threshold: 0.1, constituencyThreshold: 0.2 } },
      RangeError,
      /constituencyThreshold/,
    ],
    [
      'constituencies without votes',
      { ...twoTier, constituencyVotes: undefined },
      TypeError,
      /constituencyVotes/,
    ],
    [
      'constituencyVotes without constituencies',
      { ...good, constituencyVotes: {} },
      RangeError,
      /constituencyVotes/,
    ],
    [
      'constituency missing from constituencyVotes',
      { ...twoTier, constituencyVotes: {} },
      RangeError,
      /constituencyVotes has no entry for "X"/,
    ],
    [
      'unknown constituency in constituencyVotes',
      { ...twoTier, constituencyVotes: { X: { A: 1, B: 1 }, Y: { A: 0, B: 0 } } },
      RangeError,
      /"Y", not in method.constituencies/,
    ],
    [
      'constituency votes missing an option',
      { ...twoTier, constituencyVotes: { X: { A: 1 } } },
      RangeError,
      /constituencyVotes\["X"\] has no entry for option "B"/,
    ],
    [
      'more votes in the constituencies than in the contest',
      { ...twoTier, constituencyVotes: { X: { A: 3, B: 1 } } },
      RangeError,
      /option "A" has more votes in the constituencies \(3\) than in the contest \(2\)/,
    ],
    [
      'negative fixed seats',
      { ...twoTier, method: { name: 'dhondt', constituencies: { X: -1 } } },
      RangeError,
      /constituencies\["X"\]/,
    ],
    [
      'more fixed seats than seats',
      { ...twoTier, method: { name: 'dhondt', constituencies: { X: 3 } } },
      RangeError,
      /fixed seats \(3\) exceed the contest's seats \(2\)/,
    ],
    [
      'constituencies for plurality',
      { ...twoTier, method: { name: 'plurality', constituencies: { X: 1 } } },
      RangeError,
      /plurality/,
    ],
  ];
  it.each(cases)('%s', (_name, bad, kind, message) => {
    expect(() => allocateSeats(bad)).toThrow(kind);
    expect(() => allocateSeats(bad)).toThrow(message);
    expect(() => allocateSeats(bad)).toThrow(/^allocateSeats: /);
  });
  it('accepts the good inputs the cases are made from', () => {
    expect(allocateSeats(good).seats).toEqual({ A: 1, B: 1 });
    expect(allocateSeats(twoTier).unallocated).toBe(0);
  });
  it('handles option ids like __proto__', () => {
    const votes = JSON.parse('{"__proto__": 5, "b": 3}') as { [o: string]: number };
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'dhondt' },
      seats: 2,
      options: ['__proto__', 'b'],
      votes,
      seed: SEED,
    });
    expect(Object.hasOwn(r.seats, '__proto__')).toBe(true);
    expect(r.seats['__proto__']! + r.seats.b!).toBe(2);
  });
});

// ---- Properties ----

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

const proportional: fc.Arbitrary<Method> = fc
  .record(
    {
      name: fc.constantFrom('dhondt' as const, 'sainte-lague' as const),
      firstDivisor: fc.constantFrom(1, 1.2, 1.4, 2.5),
      threshold: fc.constantFrom(0.04, 0.1, 0.3),
      ties: fc.constantFrom('votes' as const, 'lot' as const),
    },
    { requiredKeys: ['name'] },
  )
  .map((m) => {
    if (m.name === 'dhondt') delete m.firstDivisor;
    return m;
  });

/** Vote counts: a few small values that tie often, small ones, and large ones. */
const votesOf = (n: number) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(0, 1, 2, 3, 4, 6, 12),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 5000 }),
    ),
    { minLength: n, maxLength: n },
  );

const singleTier: fc.Arbitrary<SeatInput> = fc
  .record({
    n: fc.integer({ min: 1, max: 8 }),
    seats: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 400 })),
    method: proportional,
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .chain(({ n, seats, method, seed }) =>
    votesOf(n).map((v) => ({
      contest: 'c',
      method,
      seats,
      options: IDS.slice(0, n),
      votes: Object.fromEntries(IDS.slice(0, n).map((o, i) => [o, v[i]!])),
      seed: seedOf(seed),
    })),
  );

const twoTier: fc.Arbitrary<SeatInput> = fc
  .record({
    n: fc.integer({ min: 1, max: 6 }),
    fixed: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 3 }),
    adjustment: fc.integer({ min: 0, max: 6 }),
    method: proportional,
    constituencyThreshold: fc.option(fc.constantFrom(0.12, 0.2), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .filter(({ fixed, adjustment }) => fixed.reduce((a, b) => a + b, 0) + adjustment > 0)
  .chain(({ n, fixed, adjustment, method, constituencyThreshold, seed }) => {
    const options = IDS.slice(0, n);
    const districts = fixed.map((_, i) => `k${i}`);
    return fc
      .record({
        cv: fc.array(votesOf(n), { minLength: fixed.length, maxLength: fixed.length }),
        extra: votesOf(n),
      })
      .map(({ cv, extra }) => {
        const constituencyVotes = Object.fromEntries(
          districts.map((d, k) => [d, Object.fromEntries(options.map((o, i) => [o, cv[k]![i]!]))]),
        );
        const votes = Object.fromEntries(
          options.map((o, i) => [o, extra[i]! + cv.reduce((a, c) => a + c[i]!, 0)]),
        );
        const m: Method = {
          ...method,
          constituencies: Object.fromEntries(districts.map((d, k) => [d, fixed[k]!])),
        };
        if (constituencyThreshold !== undefined && m.threshold !== undefined)
          m.constituencyThreshold = constituencyThreshold;
        return {
          contest: 'c',
          method: m,
          seats: fixed.reduce((a, b) => a + b, 0) + adjustment,
          options,
          votes,
          constituencyVotes,
          seed: seedOf(seed),
        };
      });
  });

const anyInput = fc.oneof(singleTier, twoTier);

const total = (m: { [o: string]: number }) => Object.values(m).reduce((a, b) => a + b, 0);

/** The result without `qualified`'s order (which follows `options`). */
const canonical = (r: SeatResult) => ({ ...r, qualified: [...r.qualified].sort() });

/**
 * A naive reading of the single-tier rules, one seat at a time: every
 * quotient recomputed for every seat, the highest taken; tied options all
 * take a seat when they fit, else the tie rule picks one seat at a time.
 */
function reference(i: SeatInput): Pick<SeatResult, 'seats' | 'lots'> {
  const m = i.method;
  const [p, q] = m.name === 'sainte-lague' ? decimalRatio(m.firstDivisor ?? 1) : [1n, 1n];
  const d = (k: number) => (m.name === 'dhondt' ? BigInt(k + 1) : k === 0 ? p : BigInt(2 * k + 1) * q);
  const v = (o: string) => BigInt(i.votes[o]!);
  const total = i.options.reduce((a, o) => a + v(o), 0n);
  const [tn, td] = m.threshold === undefined ? [0n, 1n] : decimalRatio(m.threshold);
  const eligible = i.options.filter((o) => v(o) * td >= tn * total);
  const won = Object.fromEntries(i.options.map((o) => [o, 0]));
  const lots: SeatResult['lots'] = [];
  if (eligible.length === 0 || total === 0n) return { seats: won, lots }; // no vote: no seat
  // x's quotient > y's?
  const gt = (x: string, y: string) => v(x) * d(won[y]!) > v(y) * d(won[x]!);
  const eq = (x: string, y: string) => v(x) * d(won[y]!) === v(y) * d(won[x]!);
  let left = i.seats;
  while (left > 0) {
    let best = eligible[0]!;
    for (const o of eligible) if (gt(o, best)) best = o;
    let group = eligible.filter((o) => eq(o, best));
    if (group.length <= left) {
      for (const o of group) won[o]!++;
      left -= group.length;
      continue;
    }
    while (left > 0) {
      let pool = group;
      if ((m.ties ?? 'votes') === 'votes') {
        const top = group.reduce((a, o) => (v(o) > a ? v(o) : a), -1n);
        pool = group.filter((o) => v(o) === top);
      }
      let winner: string;
      if (pool.length === 1) winner = pool[0]!;
      else if (pool.length <= left) {
        for (const o of pool) won[o]!++;
        left -= pool.length;
        group = group.filter((o) => !pool.includes(o));
        continue;
      } else {
        winner = lotOrder(i.seed, i.contest, pool)[0]!;
        lots.push({ scope: i.contest, tied: [...pool].sort(), winner });
      }
      won[winner]!++;
      left--;
      group = group.filter((o) => o !== winner);
    }
  }
  return { seats: won, lots };
}

describe('properties', () => {
  it('seats add up to the total when something qualifies, else the rest is unallocated', () => {
    fc.assert(
      fc.property(anyInput, (i) => {
        const r = allocateSeats(i);
        expect(total(r.seats) + r.unallocated).toBe(i.seats);
        if (r.qualified.length > 0) expect(r.unallocated).toBe(0);
        for (const o of i.options) if (!r.qualified.includes(o) && !r.fixed) expect(r.seats[o]).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('two tier: fixed seats fill each constituency, adjustment seats are never negative, shares cover fixed seats', () => {
    fc.assert(
      fc.property(twoTier, (i) => {
        const r = allocateSeats(i);
        const constituencies = i.method.constituencies!;
        if (r.qualified.length > 0)
          for (const [d, s] of Object.entries(constituencies)) expect(total(r.fixed![d]!)).toBe(s);
        for (const o of i.options) {
          expect(r.adjustment![o]).toBeGreaterThanOrEqual(0);
          const fixed = Object.values(r.fixed!).reduce((a, f) => a + f[o]!, 0);
          expect(r.seats[o]).toBe(fixed + r.adjustment![o]!);
          if (!r.qualified.includes(o) || r.excluded!.includes(o)) expect(r.adjustment![o]).toBe(0);
        }
        expect(total(r.adjustment!)).toBe(r.qualified.length > 0 ? i.seats - total(constituencies) : 0);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with a naive seat-by-seat reading, lots included', () => {
    fc.assert(
      fc.property(singleTier, (i) => {
        const r = allocateSeats(i);
        expect({ seats: r.seats, lots: r.lots }).toEqual(reference(i));
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with a direct reading: the seats go to the largest quotients', () => {
    fc.assert(
      fc.property(singleTier, (i) => {
        const r = allocateSeats(i);
        if (r.qualified.length === 0) return;
        // Every quotient v / d_k (k < seats) of a qualified option, as an exact fraction.
        const [p, q] = i.method.name === 'sainte-lague' ? decimalRatio(i.method.firstDivisor ?? 1) : [1n, 1n];
        const d = (k: number) =>
          i.method.name === 'dhondt' ? BigInt(k + 1) : k === 0 ? p : BigInt(2 * k + 1) * q;
        const all: { o: string; v: bigint; d: bigint }[] = [];
        for (const o of r.qualified)
          for (let k = 0; k < i.seats; k++) all.push({ o, v: BigInt(i.votes[o]!), d: d(k) });
        all.sort((x, y) => (x.v * y.d > y.v * x.d ? -1 : x.v * y.d < y.v * x.d ? 1 : 0));
        const last = all[i.seats - 1]!;
        const next = all[i.seats];
        const lastTied = (x: { v: bigint; d: bigint }) => x.v * last.d === last.v * x.d;
        // Whatever is strictly above the S-th quotient must be won; the rest of the
        // seats go to options that hold an S-th-quotient-equal entry.
        const sure = new Map<string, number>();
        for (const x of all.slice(0, i.seats)) if (!lastTied(x)) sure.set(x.o, (sure.get(x.o) ?? 0) + 1);
        for (const o of r.qualified) expect(r.seats[o]!).toBeGreaterThanOrEqual(sure.get(o) ?? 0);
        if (next === undefined || !lastTied(next)) {
          const want = Object.fromEntries(i.options.map((o) => [o, 0]));
          for (const x of all.slice(0, i.seats)) want[x.o]!++;
          expect(r.seats).toEqual(want);
          expect(r.lots).toEqual([]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('single tier: more votes for one option never cost it a seat', () => {
    fc.assert(
      fc.property(singleTier, fc.nat(), fc.integer({ min: 1, max: 3000 }), (i, which, more) => {
        const o = i.options[which % i.options.length]!;
        const before = allocateSeats(i).seats[o]!;
        const after = allocateSeats({ ...i, votes: { ...i.votes, [o]: i.votes[o]! + more } }).seats[o]!;
        expect(after).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 1000 },
    );
  });

  it('the order of options does not matter', () => {
    fc.assert(
      fc.property(
        anyInput.chain((i) =>
          fc
            .shuffledSubarray([...i.options], { minLength: i.options.length, maxLength: i.options.length })
            .map((options) => [i, options] as const),
        ),
        ([i, options]) => {
          const a = allocateSeats(i);
          const b = allocateSeats({ ...i, options });
          expect(canonical(b)).toEqual(canonical(a));
          expect(b.qualified).toEqual(options.filter((o) => a.qualified.includes(o)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('plurality: the order of options does not matter either', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            seats: fc.integer({ min: 1, max: n }),
            v: votesOf(n),
            order: fc.shuffledSubarray(IDS.slice(0, n), { minLength: n, maxLength: n }),
          }),
        ),
        ({ n, seats, v, order }) => {
          const options = IDS.slice(0, n);
          const votes = Object.fromEntries(options.map((o, k) => [o, v[k]!]));
          const base = { contest: 'c', method: { name: 'plurality' } as Method, seats, votes, seed: SEED };
          const a = allocateSeats({ ...base, options });
          const none = v.every((x) => x === 0); // no vote: nothing qualifies
          expect(allocateSeats({ ...base, options: order })).toEqual({ ...a, qualified: none ? [] : order });
          expect(total(a.seats)).toBe(none ? 0 : seats);
        },
      ),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(anyInput, (i) => {
        expect(allocateSeats(i)).toEqual(allocateSeats(structuredClone(i)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('performance', () => {
  it('10,000 seats among 256 options, single tier and two tier', () => {
    let x = 1;
    const rand = () => (x = (x * 48271) % 2147483647);
    const options = Array.from({ length: 256 }, (_, i) => `o${i}`);
    const votes = Object.fromEntries(options.map((o) => [o, rand() % 1_000_000]));
    const start = performance.now();
    const r = allocateSeats({
      contest: 'c',
      method: { name: 'sainte-lague', firstDivisor: 1.2 },
      seats: 10_000,
      options,
      votes,
      seed: SEED,
    });
    expect(total(r.seats)).toBe(10_000);
    // Two tier: 100 constituencies of 90 seats, 1,000 adjustment seats.
    const districts = Array.from({ length: 100 }, (_, k) => `k${k}`);
    const constituencyVotes = Object.fromEntries(
      districts.map((d) => [d, Object.fromEntries(options.map((o) => [o, Math.floor(votes[o]! / 200)]))]),
    );
    const t = allocateSeats({
      contest: 'c',
      method: {
        name: 'dhondt',
        threshold: 0.001,
        constituencies: Object.fromEntries(districts.map((d) => [d, 90])),
      },
      seats: 10_000,
      options,
      votes,
      constituencyVotes,
      seed: SEED,
    });
    expect(total(t.seats)).toBe(10_000);
    expect(performance.now() - start).toBeLessThan(10_000);
  });
});
