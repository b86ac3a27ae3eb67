/**
 * The sequencer with a journal (Replicator), in process over an in-memory
 * journal: append before commit with the previous batch's sequence, the
 * journal sequence committed with the batch, batches capped by journal
 * bytes, step down on a conflict (503, nothing committed), catch-up from the
 * journal on open (an empty store rebuilds the same checkpoint), and refusal
 * to start on a journal batch that does not fit.
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import type { UrnaError } from '../../ledger/errors.js';
import { encodedBatchBytes, JournalConflictError } from '../../services/journal/journal.js';
import type { JournalBatch, Replicator } from '../../services/node/replicator.js';
import { SequencerStoppedError } from '../../services/sequencer/sequencer.js';
import { MemoryStore } from '../../services/storage/memory.js';
import { entries, openTestLog, submitAndTick, testKeys } from '../helpers/log.js';

/** A journal in memory with the expected-last-sequence fence of the real one. */
class MemoryJournal {
  readonly batches: JournalBatch[] = [];
  readonly published: string[] = [];
  appends = 0;
  constructor(readonly maxBatchBytes = 1 << 20) {}

  replicator(): Replicator {
    return {
      maxBatchBytes: this.maxBatchBytes,
      bytesOf: encodedBatchBytes,
      append: async (batch, expectedLastSeq) => {
        this.appends++;
        if (expectedLastSeq !== this.batches.length)
          throw new JournalConflictError(expectedLastSeq, this.batches.length);
        this.batches.push({ ...batch, entries: [...batch.entries] });
        return this.batches.length;
      },
      readAfter: async function* (this: MemoryJournal, afterSeq: number) {
        for (let s = afterSeq + 1; s <= this.batches.length; s++)
          yield { seq: s, batch: this.batches[s - 1]! };
      }.bind(this),
      publishCheckpoint: (note) => this.published.push(note),
      latestCheckpoint: async () => this.published.at(-1) ?? null,
    };
  }
}

describe('sequencer with a journal', () => {
  it('appends each batch before committing it, then signs and announces the checkpoint', async () => {
    const journal = new MemoryJournal();
    const log = await openTestLog({ replicator: journal.replicator() });
    await submitAndTick(log, entries(3, 'a'));
    await submitAndTick(log, entries(2, 'b'));
    expect(journal.batches.map((b) => [b.firstIndex, b.size])).toEqual([
      [0, 3],
      [3, 5],
    ]);
    expect(journal.batches[1]!.root).toEqual(log.sequencer.head.root);
    expect(log.sequencer.status().journal).toEqual({ sequence: 2, steppedDown: false });
    expect(journal.published.at(-1)).toBe(log.sequencer.head.checkpoint);
    expect(await log.store.readExtra('j/seq')).not.toBeNull();
  });

  it('caps a batch by the journal message size as well as by count', async () => {
    const entrySize = 1000;
    const journal = new MemoryJournal(encodedBatchBytes([entrySize, entrySize, entrySize]));
    const log = await openTestLog({ replicator: journal.replicator() });
    const big = Array.from({ length: 7 }, (_, i) => {
      const e = new Uint8Array(entrySize).fill(i + 1);
      return e;
    });
    const results = big.map((e) => log.sequencer.submit(e));
    for (let i = 0; i < 100 && log.sequencer.poolSize < 7; i++) await new Promise((r) => setTimeout(r, 1));
    while (log.sequencer.poolSize > 0) await log.sequencer.tick();
    await Promise.all(results);
    expect(journal.batches.map((b) => b.entries.length)).toEqual([3, 3, 1]);
  });

  it('steps down on a journal conflict: 503 to the batch, nothing committed, no more sequencing', async () => {
    const journal = new MemoryJournal();
    const keys = testKeys();
    const a = await openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey });
    const b = await openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey });
    await submitAndTick(a, entries(2, 'a'));
    const lost = submitAndTick(b, entries(2, 'b'));
    const err = await lost.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SequencerStoppedError);
    expect((err as UrnaError).code).toBe('unavailable');
    expect((err as Error).message).toMatch(/stepped down.*journal/);
    expect(b.sequencer.status().journal).toEqual({ sequence: 0, steppedDown: true });
    expect(b.sequencer.fatal).not.toBeNull();
    expect((await b.store.readHead())?.size ?? 0).toBe(0);
    await expect(b.sequencer.submit(utf8('later'))).rejects.toBeInstanceOf(SequencerStoppedError);
    expect(b.metrics.render()).toMatch(/urna_sequencer_stepped_down 1/);
    expect(journal.batches).toHaveLength(1);
  });

  it('catches up from the journal on open: an empty store signs the same checkpoint bytes', async () => {
    const journal = new MemoryJournal();
    const keys = testKeys();
    const a = await openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey });
    for (let i = 0; i < 5; i++) await submitAndTick(a, entries(3 + i, `batch ${i}`));
    const fresh = await openTestLog({
      replicator: journal.replicator(),
      signerKey: keys.signerKey,
      store: new MemoryStore(),
    });
    expect(fresh.sequencer.head.checkpoint).toBe(a.sequencer.head.checkpoint);
    expect(fresh.sequencer.status().journal?.sequence).toBe(5);
    // A store behind the journal (a crash after the append, before the commit) catches up too.
    await submitAndTick(a, entries(2, 'late'));
    const again = await openTestLog({
      replicator: journal.replicator(),
      signerKey: keys.signerKey,
      store: fresh.store,
    });
    expect(again.sequencer.head.checkpoint).toBe(a.sequencer.head.checkpoint);
    // And sequences on at the next position.
    const [r] = await submitAndTick(again, [utf8('next')]);
    expect(r!.index).toBe(a.sequencer.head.size);
    expect(journal.batches).toHaveLength(7);
  });

  it('refuses to start on a journal batch whose root does not match, or that does not continue the log', async () => {
    const journal = new MemoryJournal();
    const keys = testKeys();
    const a = await openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey });
    await submitAndTick(a, entries(3));
    const root = journal.batches[0]!.root;
    journal.batches[0]!.root = new Uint8Array(32);
    await expect(
      openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey }),
    ).rejects.toThrow(/root at size 3 does not match/);
    journal.batches[0] = { ...journal.batches[0]!, root, firstIndex: 1 };
    await expect(
      openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey }),
    ).rejects.toThrow(/expected to start at 0/);
  });

  it('refuses a store holding entries that are not from the journal', async () => {
    const keys = testKeys();
    const plain = await openTestLog({ signerKey: keys.signerKey });
    await submitAndTick(plain, entries(2));
    await expect(
      openTestLog({
        replicator: new MemoryJournal().replicator(),
        signerKey: keys.signerKey,
        store: plain.store,
      }),
    ).rejects.toThrow(/not from the journal/);
  });
});
