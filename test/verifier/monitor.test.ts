/**
 * The monitor's check against a log that lies (test/helpers/forked-log.ts):
 * a split view at equal and at different sizes, either side seen first, and
 * rewritten history, each raising an alarm whose evidence verifies with the
 * log key alone; an honest log raises none; tampered evidence proves
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import { EvidenceError, parseAlarm, verifySplitView } from '../../ledger/alarm.js';
import { generateSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { CheckpointWatcher } from '../../verifier/monitor.js';
import { forkedLog } from '../helpers/forked-log.js';

describe('CheckpointWatcher', () => {
  it('follows an honest log: newer, older and known checkpoints, no alarm', async () => {
    const log = forkedLog({ at: 10, mode: 'split' });
    const w = new CheckpointWatcher(log.keys.verifierKey);
    const [a, b, c] = [log.honest(300), log.honest(700), log.honest(500)];
    expect((await w.observe(a.checkpoint, 'log', [a.reader])).kind).toBe('newer');
    expect((await w.observe(b.checkpoint, 'log', [b.reader])).kind).toBe('newer');
    expect((await w.observe(c.checkpoint, 'mirror', [b.reader])).kind).toBe('older');
    expect((await w.observe(b.checkpoint, 'mirror', [])).kind).toBe('known');
    expect(w.largest!.checkpoint.size).toBe(700);
  });

  it.each([
    ['split view, the fork larger, seen second', 'split', 300, 600, false],
    ['split view, the fork larger, seen first', 'split', 300, 600, true],
    ['split view, the fork smaller', 'split', 600, 300, false],
    ['split view at one size', 'split', 400, 400, false],
    ['rewritten history, larger', 'rewrite', 300, 900, false],
    ['rewritten history at one size', 'rewrite', 500, 500, true],
  ] as const)(
    '%s: an alarm whose evidence verifies with the log key alone',
    async (_n, mode, honestSize, forkSize, forkFirst) => {
      const log = forkedLog({ at: 120, mode });
      const honest = log.honest(honestSize);
      const fork = log.forked(forkSize);
      const w = new CheckpointWatcher(log.keys.verifierKey);
      const readers = [honest.reader, fork.reader];
      const [first, second] = forkFirst ? [fork, honest] : [honest, fork];
      await w.observe(first.checkpoint, 'first', readers);
      const o = await w.observe(second.checkpoint, 'second', readers);
      expect(o.kind).toBe('alarm');
      if (o.kind !== 'alarm') return;
      const [a, b] = verifySplitView(parseAlarm(o.text), parseVerifierKey(log.keys.verifierKey));
      expect([a.size, b.size]).toEqual([Math.min(honestSize, forkSize), Math.max(honestSize, forkSize)]);
      if (honestSize !== forkSize) expect(o.evidence.proof).not.toBeNull();
    },
  );

  it('evidence does not verify when tampered with, under another key, or for consistent checkpoints', async () => {
    const log = forkedLog({ at: 50, mode: 'split' });
    const key = parseVerifierKey(log.keys.verifierKey);
    const w = new CheckpointWatcher(log.keys.verifierKey);
    const [h, f] = [log.honest(200), log.forked(500)];
    await w.observe(h.checkpoint, 'log', [h.reader]);
    const o = await w.observe(f.checkpoint, 'fork', [f.reader]);
    if (o.kind !== 'alarm') throw new Error('expected an alarm');
    const e = parseAlarm(o.text);
    expect(() => verifySplitView(e, parseVerifierKey(generateSignerKey(log.origin).verifierKey))).toThrow(
      EvidenceError,
    );
    const proof = e.proof!.map((x) => x.slice());
    proof[0]![0]! ^= 1;
    expect(() => verifySplitView({ ...e, proof }, key)).toThrow(/does not show the root/);
    expect(() => verifySplitView({ ...e, proof: null }, key)).toThrow(/no proof/);
    // Two honest checkpoints, dressed up as an alarm: the proof shows they are consistent.
    const [h2, h5] = [log.honest(200), log.honest(500)];
    const root = await h5.reader.rootAt(200, { size: 500, root: (await h5.reader.checkpoint()).head.root });
    const consistent = {
      ...e,
      notes: [h2.checkpoint, h5.checkpoint] as [string, string],
      rootAt: root,
      proof: await h5.reader.consistencyProof(200, 500, (await h5.reader.checkpoint()).head),
    };
    expect(() => verifySplitView(consistent, key)).toThrow(/extends/);
    expect(() => verifySplitView({ ...e, notes: [h2.checkpoint, h2.checkpoint] }, key)).toThrow(/one tree/);
  });

  it('a larger checkpoint no source can serve is reported unchecked, not alarmed', async () => {
    const log = forkedLog({ at: 50, mode: 'split' });
    const w = new CheckpointWatcher(log.keys.verifierKey);
    const h = log.honest(200);
    await w.observe(h.checkpoint, 'log', [h.reader]);
    const f = log.forked(500);
    expect((await w.observe(f.checkpoint, 'gossip', [h.reader])).kind).toBe('unchecked');
  });
});
