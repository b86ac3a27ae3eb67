import { describe, expect, it } from 'vitest';
import { evictOldest } from '../../ledger/lru.js';

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
