import { describe, expect, it } from 'vitest';
import { evictOldest, evictOldestWeighed } from '../../ledger/lru.js';

describe('evictOldest', () => {
  it('keeps a map within its capacity, deleting the oldest entries first, an eighth at a time', () => {
    const m = new Map<number, number>();
    for (let i = 0; i < 64; i++) {
      m.set(i, i);
      evictOldest(m, 32);
      expect(m.size).toBeLessThanOrEqual(32);
    }
    const kept = [...m.keys()];
    expect(kept).toEqual([...Array(kept.length).keys()].map((k) => 64 - kept.length + k)); // the newest, in order
    expect(kept.length).toBeGreaterThanOrEqual(28);
  });

  it('spares an entry used again (deleted and re-inserted) over older ones', () => {
    const m = new Map<string, number>([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
    m.delete('a');
    m.set('a', 1); // a hit: now the newest
    m.set('e', 5);
    evictOldest(m, 4);
    expect([...m.keys()]).toEqual(['c', 'd', 'a', 'e'].slice(-m.size));
    expect(m.has('a')).toBe(true);
    expect(m.has('b')).toBe(false);
  });

  it('does nothing within capacity', () => {
    const m = new Map([[1, 1]]);
    evictOldest(m, 1);
    expect([...m]).toEqual([[1, 1]]);
  });
});

describe('evictOldestWeighed', () => {
  const bytesOf = (v: Uint8Array) => v.length;
  /** Inserts `sizes` in order, evicting after each; the keys kept and the bytes held. */
  const fill = (sizes: number[], within: { entries: number; bytes: number }) => {
    const m = new Map<number, Uint8Array>();
    let held = 0;
    sizes.forEach((n, i) => {
      m.set(i, new Uint8Array(n));
      held = evictOldestWeighed(m, within, held + n, bytesOf);
      expect(m.size).toBeLessThanOrEqual(within.entries);
      expect(held).toBeLessThanOrEqual(within.bytes);
      expect(held).toBe([...m.values()].reduce((t, v) => t + v.length, 0));
    });
    return { kept: [...m.keys()], held };
  };

  it('keeps the bytes within the budget, however few the entries: large values evict more', () => {
    const { kept, held } = fill([100, 100, 100, 100, 700, 100], { entries: 100, bytes: 1000 });
    expect(kept).toEqual([3, 4, 5]); // the 700 made 1,100: the oldest went until 875 or less was held
    expect(held).toBe(900);
  });

  it('keeps the entries within their bound when the bytes are within theirs', () => {
    const { kept } = fill(Array<number>(20).fill(1), { entries: 8, bytes: 1000 });
    expect(kept).toEqual([12, 13, 14, 15, 16, 17, 18, 19]); // at 9, down to 7; then one more
  });

  it('deletes a value larger than the whole budget at once, and nothing else is left', () => {
    const { kept, held } = fill([10, 5000], { entries: 8, bytes: 1000 });
    expect(kept).toEqual([]);
    expect(held).toBe(0);
  });
});
