// services/node/materialize.ts withLookahead: replay commits durably
// only at the end of a run of batches already at hand, so `more` must be
// true exactly when the next item was ready, and false at the end.
import { describe, expect, it } from 'vitest';
import { withLookahead } from '../../services/node/materialize.js';

async function* source(): AsyncGenerator<number> {
  yield 1; // a window of three read together
  yield 2;
  yield 3;
  await new Promise((r) => setTimeout(r, 20)); // then a wait for the journal
  yield 4;
  yield 5;
}

describe('withLookahead', () => {
  it('says whether the next item was at hand: true inside a run, false before a wait and at the end', async () => {
    const seen: Array<[number, boolean]> = [];
    for await (const { value, more } of withLookahead(source())) seen.push([value, more]);
    expect(seen).toEqual([
      [1, true],
      [2, true],
      [3, false],
      [4, true],
      [5, false],
    ]);
  });

  it('handles an empty source, and closes the source when the consumer stops early', async () => {
    const empty: Array<unknown> = [];
    for await (const x of withLookahead((async function* () {})())) empty.push(x);
    expect(empty).toEqual([]);
    let closed = false;
    const endless = (async function* () {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    })();
    for await (const { value } of withLookahead(endless)) if (value === 3) break;
    expect(closed).toBe(true);
  });
});
