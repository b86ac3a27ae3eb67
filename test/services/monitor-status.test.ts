/**
 * The monitor's view of the witness quorum (services/monitor/monitor.ts):
 * the largest checkpoint as served with its cosignatures, checked under a
 * tlog-policy; freshness from the newest quorum cosignature's timestamp; a
 * richer copy of the same checkpoint (more cosignatures) replaces a poorer
 * one; another monitor's alarm is adopted only when its evidence proves a
 * fork.
 */
import { describe, expect, it } from 'vitest';
import { formatAlarm } from '../../ledger/alarm.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey, parseCosignerKey } from '../../ledger/cosignature.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import { silentLogger } from '../../services/log.js';
import { Monitor } from '../../services/monitor/monitor.js';
import { CheckpointWatcher } from '../../verifier/monitor.js';
import { forkedLog } from '../helpers/forked-log.js';

describe('Monitor.status with a witness policy', () => {
  const log = generateSignerKey('status.example/log');
  const ws = [0, 1, 2].map((i) => generateCosignerKey(`w${i}.example/witness`));
  const policy = parsePolicy(
    `log ${log.verifierKey}\n` +
      ws.map((w, i) => `witness w${i} ${w.verifierKey}\n`).join('') +
      'group q 2 w0 w1 w2\nquorum q\n',
  );
  const T = 1_800_000_000; // POSIX seconds of the cosignatures
  const note = (cosigners: number[]) =>
    signCheckpoint(
      { origin: 'status.example/log', size: 10, root: new Uint8Array(32).fill(1), extensions: [] },
      parseSignerKey(log.signerKey),
      cosigners.map((i) => parseCosignerKey(ws[i]!.signerKey, () => T - i)),
    );

  it('reports the quorum, its freshness, and stale beyond --max-age', async () => {
    let now = (T + 60) * 1000;
    const m = new Monitor({
      logKey: log.verifierKey,
      sources: [],
      peers: [],
      policy,
      intervalMs: 1000,
      maxAgeMs: 600_000,
      log: silentLogger,
      now: () => now,
    });
    await m.offer(note([0]), 'log');
    expect(m.status().quorum).toMatchObject({ witnesses: ['w0'], satisfied: false });
    await m.offer(note([0, 2]), 'log'); // the same checkpoint, with more cosignatures
    expect(m.status().quorum).toEqual({
      witnesses: ['w0', 'w2'],
      satisfied: true,
      newestCosignatureAgeMs: 60_000,
      stale: false,
    });
    now = (T + 3600) * 1000;
    expect(m.status().quorum).toMatchObject({ satisfied: true, stale: true });
    await m.close();
  });
});

describe('Monitor.adoptAlarm', () => {
  it('adopts evidence that proves a fork and refuses evidence that does not', async () => {
    const log = forkedLog({ at: 20, mode: 'split' });
    const [h, f] = [log.honest(100), log.forked(200)];
    const w = new CheckpointWatcher(log.keys.verifierKey);
    await w.observe(h.checkpoint, 'log', [h.reader]);
    const o = await w.observe(f.checkpoint, 'fork', [f.reader]);
    if (o.kind !== 'alarm') throw new Error('expected an alarm');
    const m = new Monitor({
      logKey: log.keys.verifierKey,
      sources: [],
      peers: [],
      intervalMs: 1000,
      log: silentLogger,
    });
    expect(
      await m.adoptAlarm(formatAlarm({ ...o.evidence, notes: [h.checkpoint, h.checkpoint] }), 'peer'),
    ).toBe(false);
    expect(m.alarms).toHaveLength(0);
    expect(await m.adoptAlarm(o.text, 'peer')).toBe(true);
    expect(await m.adoptAlarm(o.text, 'another peer')).toBe(true); // the same fork: not raised twice
    expect(m.alarms).toHaveLength(1);
    expect(m.gossip().alarms).toHaveLength(1);
    await m.close();
  });
});

describe('gossip of what a monitor could not check', () => {
  it('a monitor that first learned the fork from a peer still gets the split view raised', async () => {
    const log = forkedLog({ at: 100, mode: 'split', origin: 'order.example/log' });
    const [honest, fork] = [log.honest(500), log.forked(800)];
    const make = (side: typeof honest, url: string) =>
      new Monitor({
        logKey: log.keys.verifierKey,
        sources: [url],
        peers: [],
        intervalMs: 1000,
        log: silentLogger,
        fetch: side.fetch,
      });
    const a = make(honest, 'http://log.test/');
    const b = make(fork, 'http://fork.test/');
    // A hears of the fork's larger checkpoint from a peer before it reads its own source.
    await a.offer(fork.checkpoint, 'peer b');
    expect((await a.offer(honest.checkpoint, 'http://log.test/'))?.kind).toBe('unchecked');
    expect(a.gossip().notes).toContain(honest.checkpoint);
    // B reads A's gossip: it can check A's checkpoint against its own tree, and proves the fork.
    await b.offer(fork.checkpoint, 'http://fork.test/');
    for (const n of a.gossip().notes) await b.offer(n, 'peer a');
    expect(b.alarms).toHaveLength(1);
    // A adopts B's evidence from B's gossip.
    for (const text of b.gossip().alarms) expect(await a.adoptAlarm(text, 'peer b')).toBe(true);
    expect(a.alarms).toHaveLength(1);
    await a.close();
    await b.close();
  });
});
