import { describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { UrnaError } from '../../ledger/errors.js';
import { openNote } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import { DEFER, type Admission } from '../../services/node/admission.js';
import { PushbackError, SequencerStoppedError } from '../../services/sequencer/sequencer.js';
import { MemoryStore } from '../../services/storage/memory.js';
import { MemorySignerState } from '../../services/storage/signer-state.js';
import { entries, openTestLog, submitAndTick, waitForPool } from '../helpers/log.js';

describe('Sequencer', () => {
  it('signs an empty checkpoint when opened on an empty store', async () => {
    const log = await openTestLog();
    const c = parseCheckpoint(openNote(log.sequencer.head.checkpoint, [log.verifier]).text);
    expect(c.size).toBe(0);
    expect(c.origin).toBe('example.test/log');
  });

  it('sequences a batch and answers every submitter with a receipt that verifies', async () => {
    const log = await openTestLog();
    const batch = entries(300);
    const results = await submitAndTick(log, batch);
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(300).keys()]);
    for (const [i, r] of results.entries()) {
      const v = verifyReceipt(r.receipt, { entry: batch[i]! }, log.verifier);
      expect(v.checkpoint.size).toBe(300);
    }
    expect(log.sequencer.head.size).toBe(300);
  });

  it('returns the same index for an identical resubmission, in the pool or in the log', async () => {
    const log = await openTestLog();
    const [a] = entries(1);
    const p1 = log.sequencer.submit(a!);
    const p2 = log.sequencer.submit(a!);
    await waitForPool(log, 1);
    await log.sequencer.tick();
    const [r1, r2] = await Promise.all([p1, p2]);
    expect(r1.index).toBe(r2.index);
    const r3 = await log.sequencer.submit(a!);
    expect(r3).toMatchObject({ index: r1.index, duplicate: true });
    expect(log.sequencer.head.size).toBe(1);
  });

  it('ticks adaptively: an idle log sequences a lone submission at once, the next waits for the floor', async () => {
    const log = await openTestLog({ batchPeriodMs: 3_600_000 });
    log.sequencer.start();
    try {
      const [a, b] = entries(2, 'adaptive');
      expect((await log.sequencer.submit(a!)).index).toBe(0); // no tick yet: none waited for
      const second = log.sequencer.submit(b!);
      await waitForPool(log, 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(log.sequencer.poolSize).toBe(1); // an hour has not passed since the first tick began
      expect(log.sequencer.head.size).toBe(1);
      await log.sequencer.tick();
      expect((await second).index).toBe(1);
    } finally {
      await log.sequencer.stop();
    }
  });

  it('ticks back to back under a short floor: every submission is answered without a manual tick', async () => {
    const log = await openTestLog({ batchPeriodMs: 1 });
    log.sequencer.start();
    try {
      for (const [i, e] of entries(5, 'chain').entries())
        expect((await log.sequencer.submit(e)).index).toBe(i);
      const burst = await Promise.all(entries(200, 'burst').map((e) => log.sequencer.submit(e)));
      expect(new Set(burst.map((r) => r.index)).size).toBe(200);
      expect(log.sequencer.head.size).toBe(205);
    } finally {
      await log.sequencer.stop();
    }
  });

  it('answers with the index only when the receipt is asked for later, and with it if anyone asked now', async () => {
    const log = await openTestLog();
    const [a, b] = entries(2, 'when');
    const later = log.sequencer.submit(a!, 'later');
    const both = [log.sequencer.submit(b!, 'later'), log.sequencer.submit(b!, 'now')] as const;
    await waitForPool(log, 2);
    await log.sequencer.tick();
    const onlyIndex = await later;
    expect(onlyIndex).not.toHaveProperty('receipt');
    expect(onlyIndex).toMatchObject({ index: 0, duplicate: false });
    expect(parseCheckpoint(openNote(onlyIndex.checkpoint, [log.verifier]).text).size).toBe(2);
    // The same entry submitted both ways: one pending submission, answered with its receipt.
    const [x, y] = await Promise.all(both);
    expect(x).toBe(y);
    verifyReceipt(y.receipt, { entry: b! }, log.verifier);
    const { receipt } = await log.sequencer.receiptFor(0, onlyIndex.leafHash);
    verifyReceipt(receipt, { entry: a! }, log.verifier);
    expect(await log.sequencer.submit(a!, 'later')).toMatchObject({ index: 0, duplicate: true });
    expect(await log.sequencer.submit(a!, 'later')).not.toHaveProperty('receipt');
  });

  it('answers with a receipt a submission that asked for it now and joined one that did not, mid-tick', async () => {
    const signerState = new MemorySignerState();
    let release!: () => void;
    let writing!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (writing = r));
    const log = await openTestLog({ signerState });
    const write = signerState.write.bind(signerState);
    signerState.write = async (note) => {
      writing();
      await held; // the batch is committed; its receipts are being made
      return write(note);
    };
    const [a] = entries(1, 'late-join');
    const later = log.sequencer.submit(a!, 'later');
    await waitForPool(log, 1);
    const tick = log.sequencer.tick();
    await started;
    const now = log.sequencer.submit(a!, 'now'); // joins the pending submission
    await new Promise((r) => setTimeout(r, 10));
    release();
    await tick;
    const [x, y] = await Promise.all([later, now]);
    expect(x).toBe(y);
    verifyReceipt(y.receipt, { entry: a! }, log.verifier);
  });

  it('applies admission in sequence order, fails only the rejected entries, and retries deferred ones', async () => {
    const seen: number[] = [];
    let deferrals = 0;
    const admission: Admission = {
      prepare: async (entry) => new TextDecoder().decode(entry).toUpperCase(),
      begin: async () => ({
        admit(_entry, prepared, index) {
          seen.push(index);
          if ((prepared as string).startsWith('LATER') && deferrals++ === 0) return DEFER;
          return (prepared as string).startsWith('BAD') ? new UrnaError('rule', 'bad entry') : null;
        },
        extra: () => [{ key: 'p/last', value: utf8(String(seen.at(-1))) }],
      }),
    };
    const log = await openTestLog({ admission });
    const input = [utf8('good-0'), utf8('later-1'), utf8('bad-2'), utf8('good-3')];
    const submitted = input.map((e) => log.sequencer.submit(e));
    await waitForPool(log, 4);
    await log.sequencer.tick();
    expect(log.sequencer.head.size).toBe(2);
    expect(log.sequencer.poolSize).toBe(1); // the deferred entry waits for the next batch
    await log.sequencer.tick();
    const results = await Promise.allSettled(submitted);
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { index: 0 } });
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: { index: 2 } });
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'rule' } });
    expect(results[3]).toMatchObject({ status: 'fulfilled', value: { index: 1 } });
    expect(log.sequencer.head.size).toBe(3);
    expect(new TextDecoder().decode((await log.store.readExtra('p/last'))!)).toBe('2');
  });

  it('fails a batch whose commit fails, changes nothing, and goes on with the next', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    await submitAndTick(log, entries(10, 'first'));
    const before = log.sequencer.head;
    store.failNext.add('commit');
    await expect(submitAndTick(log, entries(5, 'lost'))).rejects.toBeInstanceOf(PushbackError);
    expect(log.sequencer.head).toEqual(before);
    expect((await store.readHead())!.size).toBe(10);
    const next = await submitAndTick(log, entries(5, 'lost'));
    expect(next.map((r) => r.index).sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14]);
    for (const r of next) verifyReceipt(r.receipt, { leafHash: r.leafHash }, log.verifier);
  });

  it('pushes back with a PushbackError when the pending bound is reached', async () => {
    const log = await openTestLog({ maxPending: 3 });
    const ps = entries(3).map((e) => log.sequencer.submit(e));
    await waitForPool(log, 3);
    await expect(log.sequencer.submit(utf8('one too many'))).rejects.toBeInstanceOf(PushbackError);
    await log.sequencer.tick();
    await Promise.all(ps);
    expect(log.sequencer.head.size).toBe(3);
  });

  it('rejects empty and oversize entries without touching the log', async () => {
    const log = await openTestLog();
    await expect(log.sequencer.submit(new Uint8Array(0))).rejects.toMatchObject({ code: 'empty' });
    await expect(log.sequencer.submit(new Uint8Array(65536))).rejects.toMatchObject({ code: 'too_large' });
    await log.sequencer.tick();
    expect(log.sequencer.head.size).toBe(0);
  });

  it('reopens from the store and continues the same tree (recovery path)', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    await submitAndTick(log, entries(700, 'a'));
    const reopened = await openTestLog({ store, signerKey: log.signerKey });
    expect(reopened.sequencer.head.checkpoint).toBe(log.sequencer.head.checkpoint);
    const more = await submitAndTick(reopened, entries(100, 'b'));
    for (const r of more) verifyReceipt(r.receipt, { leafHash: r.leafHash }, reopened.verifier);
    expect(reopened.sequencer.head.size).toBe(800);
  });

  it('reopens at sizes that fill a tile exactly (no partial bundle) and goes on appending', async () => {
    for (const sizes of [[256], [200, 56], [256, 256, 65536 - 512]]) {
      const store = new MemoryStore();
      let log = await openTestLog({ store });
      let total = 0;
      for (const [k, n] of sizes.entries()) {
        await submitAndTick(log, entries(n, `fill ${k}`));
        total += n;
        log = await openTestLog({ store, signerKey: log.signerKey }); // reopen at a multiple of 256
        expect(log.sequencer.head.size).toBe(total);
      }
      const more = await submitAndTick(log, entries(3, 'after'));
      for (const r of more) verifyReceipt(r.receipt, { leafHash: r.leafHash }, log.verifier);
      expect(log.sequencer.head.size).toBe(total + 3);
    }
  });

  it('re-signs the committed head when the checkpoint write was lost', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    await submitAndTick(log, entries(20, 'a'));
    const signed = log.sequencer.head.checkpoint;
    store.failNext.add('writeCheckpoint');
    // The checkpoint write fails after the commit: the sequencer stops.
    await expect(submitAndTick(log, entries(3, 'b'))).rejects.toBeInstanceOf(SequencerStoppedError);
    expect(log.sequencer.fatal).not.toBeNull();
    expect(await store.readCheckpoint()).toBe(signed);
    const reopened = await openTestLog({ store, signerKey: log.signerKey });
    expect(reopened.sequencer.head.size).toBe(23);
    const c = parseCheckpoint(openNote((await store.readCheckpoint())!, [reopened.verifier]).text);
    expect(c.size).toBe(23);
  });

  it('refuses to start when storage contradicts itself (checkpoint from another tree)', async () => {
    const storeA = new MemoryStore();
    const a = await openTestLog({ store: storeA });
    await submitAndTick(a, entries(5, 'a'));
    const storeB = new MemoryStore();
    const b = await openTestLog({ store: storeB, signerKey: a.signerKey });
    await submitAndTick(b, entries(5, 'b'));
    await storeB.writeCheckpoint(a.sequencer.head.checkpoint);
    await expect(openTestLog({ store: storeB, signerKey: a.signerKey })).rejects.toMatchObject({
      code: 'storage_corrupt',
    });
  });

  it('refuses to start on a corrupted partial tile or entry bundle', async () => {
    for (const level of [0, -1]) {
      const store = new MemoryStore();
      const log = await openTestLog({ store });
      await submitAndTick(log, entries(40, 'x'));
      const [data] = await store.readTiles([{ level, index: 0, width: 40 }]);
      const bad = data!.slice();
      bad[bad.length - 1]! ^= 1;
      store.corruptTile({ level, index: 0 }, bad);
      await expect(openTestLog({ store, signerKey: log.signerKey })).rejects.toMatchObject({
        code: 'storage_corrupt',
      });
    }
  });

  it('refuses to hand out a receipt computed from a corrupted full tile', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    const input = entries(300, 'x');
    const results = await submitAndTick(log, input);
    const first = results.find((r) => r.index === 0)!;
    const [data] = await store.readTiles([{ level: 0, index: 0, width: 256 }]);
    const bad = data!.slice();
    bad[32 + 5]! ^= 1; // leaf 1's hash: on leaf 0's inclusion path
    store.corruptTile({ level: 0, index: 0 }, bad);
    const reopened = await openTestLog({ store, signerKey: log.signerKey }); // cold tile cache
    await expect(reopened.sequencer.receiptFor(0, first.leafHash)).rejects.toMatchObject({
      code: 'storage_corrupt',
    });
  });
});
