/**
 * The log keeps its promises when its storage fails, in process: the
 * signer state outside the store (a store behind it or contradicting it is
 * refused), the data dir's identity (a database LevelDB lost or dropped
 * records from is never served as an empty or shorter log), transient
 * faults (503 with Retry-After, recovery by itself), the free-space floor,
 * corrupt storage reported, a graceful drain, and the background scrub.
 */
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { leafHash } from '../../ledger/hash.js';
import type { UrnaError } from '../../ledger/errors.js';
import { silentLogger } from '../../services/log.js';
import { Scrubber } from '../../services/node/scrub.js';
import { openDataDir, UnusableStoreError } from '../../services/storage/data-dir.js';
import { BelowFloorError } from '../../services/storage/disk-space.js';
import {
  StorageCorruptError,
  StoreBehindError,
  StorageUnavailableError,
} from '../../services/storage/errors.js';
import { StoreInUseError, WalDroppedError, type LevelStore } from '../../services/storage/level.js';
import { MemoryStore } from '../../services/storage/memory.js';
import { FileSignerState, MemorySignerState } from '../../services/storage/signer-state.js';
import { entries, openTestLog, submitAndTick, tempDir, waitForPool } from '../helpers/log.js';

describe('the signer state', () => {
  it('is absent until written, then holds exactly the last note, in a file only the owner may read', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const state = new FileSignerState(join(dir, 'log.key.checkpoint'));
      expect(await state.read()).toBeNull();
      await state.write('first\n');
      await state.write('second\n');
      expect(await state.read()).toBe('second\n');
      expect((await stat(state.where)).mode & 0o777).toBe(0o600);
      expect(await readdir(dir)).toEqual(['log.key.checkpoint']); // no temporary file left behind
    } finally {
      await cleanup();
    }
  });

  it('is written before a receipt goes out: a sequencer over a store behind it refuses to start', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    await submitAndTick(log, entries(10, 'a'));
    const signed = await log.signerState.read();
    expect(signed).toBe(log.sequencer.head.checkpoint);
    // The same key over a store that lost the entries (an older copy, a truncated write-ahead log).
    const behind = new MemoryStore();
    const older = await openTestLog({ store: behind, signerKey: log.signerKey });
    await submitAndTick(older, entries(4, 'a'));
    const err = await openTestLog({
      store: behind,
      signerKey: log.signerKey,
      signerState: log.signerState,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreBehindError);
    expect(err).toMatchObject({ storeSize: 4, signedSize: 10, code: 'storage_corrupt' });
    // Nothing was signed over it.
    expect(await log.signerState.read()).toBe(signed);
  });

  it('refuses a store that holds another tree at a signed size (signing over it would fork)', async () => {
    const a = await openTestLog();
    await submitAndTick(a, entries(5, 'a'));
    const other = new MemoryStore();
    const b = await openTestLog({ store: other, signerKey: a.signerKey });
    await submitAndTick(b, entries(7, 'b'));
    await expect(
      openTestLog({ store: other, signerKey: a.signerKey, signerState: a.signerState }),
    ).rejects.toThrow(/signed root .* at size 5 .* refusing to serve or sign over it/s);
  });

  it('is what a restart trusts over the store: a stale stored checkpoint does not matter', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    await submitAndTick(log, entries(3, 'a'));
    const stale = log.sequencer.head.checkpoint;
    await submitAndTick(log, entries(3, 'b'));
    const latest = log.sequencer.head.checkpoint;
    await store.writeCheckpoint(stale); // as if the store's own copy of the last one were lost
    const again = await openTestLog({ store, signerKey: log.signerKey, signerState: log.signerState });
    expect(again.sequencer.head.checkpoint).toBe(latest);
  });

  it('a state write that fails answers 503 and is retried; the entry is then in the log at one index', async () => {
    const signerState = new MemorySignerState();
    const log = await openTestLog({ signerState, storageRetry: { retryMs: 10 } });
    signerState.failNext = true;
    const entry = utf8('needs a durable checkpoint');
    const [first] = await Promise.allSettled([submitAndTick(log, [entry])]);
    expect(first.status).toBe('rejected');
    // The batch was committed; recovery signs it, so the resubmission is a duplicate at index 0.
    for (let i = 0; i < 200 && log.sequencer.head.size === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const [again] = await submitAndTick(log, [entry]);
    expect(again).toMatchObject({ index: 0, duplicate: true });
    expect(await signerState.read()).toBe(log.sequencer.head.checkpoint);
  });
});

describe('transient storage faults', () => {
  it('answer 503 with Retry-After while the store fails, report not ok, and recover by themselves', async () => {
    const store = new MemoryStore();
    const log = await openTestLog({ store, storageRetry: { retryMs: 20, giveUpMs: 60_000 } });
    await submitAndTick(log, entries(3, 'before'));
    store.ioFault = 'No space left on device';
    const results = await Promise.allSettled([submitAndTick(log, entries(2, 'during'))]);
    expect(results[0]!.status).toBe('rejected');
    const reason = (results[0] as PromiseRejectedResult).reason as UrnaError;
    expect(reason).toBeInstanceOf(StorageUnavailableError);
    expect(log.sequencer.status()).toMatchObject({
      ok: false,
      error: expect.stringMatching(/storage unavailable/),
    });
    await expect(log.sequencer.submit(utf8('refused at once'))).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    store.ioFault = null;
    for (let i = 0; i < 200 && !log.sequencer.status().ok; i++) await new Promise((r) => setTimeout(r, 5));
    expect(log.sequencer.status().ok).toBe(true);
    const after = await submitAndTick(log, entries(2, 'during'));
    expect(after.map((r) => r.index)).toEqual([3, 4]);
  });

  it('give up after the configured time: the sequencer halts and says so', async () => {
    const store = new MemoryStore();
    let stopped: UrnaError | null = null;
    const log = await openTestLog({
      store,
      storageRetry: { retryMs: 5, giveUpMs: 30 },
      onStop: (e) => (stopped = e),
    });
    store.ioFault = 'Too many open files';
    await Promise.allSettled([submitAndTick(log, entries(1))]);
    for (let i = 0; i < 200 && stopped === null; i++) await new Promise((r) => setTimeout(r, 5));
    expect(stopped).not.toBeNull();
    expect(stopped!.message).toMatch(/storage unavailable for more than/);
    expect(log.sequencer.status().ok).toBe(false);
  });

  it('the free-space floor refuses batches with its error and lets them through once it clears', async () => {
    let refuse: UrnaError | null = new BelowFloorError('only 1 MiB free, below the floor');
    const log = await openTestLog({ canWrite: () => refuse });
    await expect(log.sequencer.submit(utf8('x'))).rejects.toMatchObject({ code: 'storage_full' });
    expect(log.sequencer.status().ok).toBe(false);
    expect(log.sequencer.head.size).toBe(0);
    refuse = null;
    const [r] = await submitAndTick(log, [utf8('x')]);
    expect(r!.index).toBe(0);
  });
});

describe('corrupt storage and shutdown', () => {
  it('corrupt storage met by a read makes the sequencer refuse entries and report not ok', async () => {
    const log = await openTestLog();
    await submitAndTick(log, entries(2));
    log.sequencer.storageCorrupt(new StorageCorruptError('tile/0/000 does not match'));
    expect(log.sequencer.status()).toMatchObject({
      ok: false,
      error: expect.stringMatching(/does not match/),
    });
    await expect(log.sequencer.submit(utf8('new'))).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('drain answers what is pending with receipts and refuses what comes after', async () => {
    const log = await openTestLog();
    const pending = entries(5, 'pending').map((e) => log.sequencer.submit(e));
    await waitForPool(log, 5);
    await log.sequencer.drain(5_000);
    const results = await Promise.all(pending);
    expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4]);
    await expect(log.sequencer.submit(utf8('late'))).rejects.toThrow();
  });
});

/** A LevelDB write-ahead log with `n` records of about 200 bytes (each synced). */
async function fillWal(store: LevelStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.writeIdentity(`record ${i} ${'w'.repeat(180)}`);
}

describe('the data dir', () => {
  it('is initialised once, with an identity in store.json and in the database', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const first = await openDataDir(dir, { origin: 'example.test/log' });
      expect(first.created).toBe(true);
      await first.store.close();
      const identity = JSON.parse(await readFile(join(dir, 'store.json'), 'utf8'));
      expect(identity).toMatchObject({ format: 'urna-store/v1', origin: 'example.test/log' });
      const again = await openDataDir(dir, { origin: 'example.test/log' });
      expect(again).toMatchObject({ created: false, identity: { id: identity.id } });
      await again.store.close();
    } finally {
      await cleanup();
    }
  });

  it('is never re-created empty: a deleted CURRENT file or a lost database is refused', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      (await openDataDir(dir, { origin: 'o.test/log' })).store.close();
      await new Promise((r) => setTimeout(r, 10));
      await unlink(join(dir, 'db', 'CURRENT'));
      const err = await openDataDir(dir, { origin: 'o.test/log' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnusableStoreError);
      expect((err as Error).message).toMatch(/cannot open the LevelDB database/);
      // Nothing was created in its place, nothing was deleted.
      expect((await readdir(join(dir, 'db'))).some((f) => f.endsWith('.ldb') || f.endsWith('.log'))).toBe(
        true,
      );
      expect(await readdir(join(dir, 'db'))).not.toContain('CURRENT');
    } finally {
      await cleanup();
    }
  });

  it('refuses a database that is not the one it was initialised with', async () => {
    const { dir, cleanup } = await tempDir();
    const other = await tempDir();
    try {
      (await openDataDir(dir, { origin: 'o.test/log' })).store.close();
      (await openDataDir(other.dir, { origin: 'o.test/log' })).store.close();
      await writeFile(join(dir, 'store.json'), await readFile(join(other.dir, 'store.json')));
      await expect(openDataDir(dir, { origin: 'o.test/log' })).rejects.toThrow(/is not the database/);
    } finally {
      await cleanup();
      await other.cleanup();
    }
  });

  it('moves a database that dropped write-ahead-log records aside, and refuses to start (or rebuilds)', async () => {
    for (const rebuild of [false, true]) {
      const { dir, cleanup } = await tempDir();
      try {
        const { store } = await openDataDir(dir, { origin: 'o.test/log' });
        await fillWal(store, 600);
        await store.close();
        const wal = (await readdir(join(dir, 'db'))).find((f) => f.endsWith('.log'))!;
        const bytes = await readFile(join(dir, 'db', wal));
        for (let i = 0; i < 16; i++) bytes[40_000 + i * 7]! ^= 0xff; // 16 flipped bytes
        await writeFile(join(dir, 'db', wal), bytes);
        const opened = openDataDir(dir, { origin: 'o.test/log', rebuild, warn: () => {} });
        if (!rebuild) {
          const err = (await opened.catch((e: unknown) => e)) as UnusableStoreError;
          expect(err).toBeInstanceOf(UnusableStoreError);
          expect(err.cause).toBeInstanceOf(WalDroppedError);
          expect(err.movedTo).toMatch(/db\.unusable-/);
          // The verdict outlives the process: the next start refuses too (the database is gone from db/).
          await expect(openDataDir(dir, { origin: 'o.test/log' })).rejects.toThrow(/database .* is missing/);
        } else {
          const fresh = await opened;
          expect(fresh.created).toBe(true);
          expect(await fresh.store.readHead()).toBeNull();
          await fresh.store.close();
          expect((await readdir(dir)).some((f) => f.startsWith('db.unusable-'))).toBe(true);
        }
      } finally {
        await cleanup();
      }
    }
  });

  it('a database another process holds open is in use, never unusable: not moved aside, not rebuilt', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const first = await openDataDir(dir, { origin: 'o.test/log' });
      for (const rebuild of [false, true])
        await expect(openDataDir(dir, { origin: 'o.test/log', rebuild })).rejects.toBeInstanceOf(
          StoreInUseError,
        );
      expect((await readdir(dir)).sort()).toEqual(['db', 'store.json']);
      await first.store.close();
    } finally {
      await cleanup();
    }
  });

  it('adopts a database whose store.json was lost (or that an older urna made)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const { store, identity } = await openDataDir(dir, { origin: 'o.test/log' });
      await store.close();
      await unlink(join(dir, 'store.json'));
      const warnings: string[] = [];
      const again = await openDataDir(dir, { origin: 'o.test/log', warn: (m) => warnings.push(m) });
      expect(again.identity.id).toBe(identity.id);
      expect(warnings.join()).toMatch(/was missing/);
      await again.store.close();
    } finally {
      await cleanup();
    }
  });
});

describe('the scrub', () => {
  async function scrubbed(n: number) {
    const store = new MemoryStore();
    const log = await openTestLog({ store });
    for (let i = 0; i < n; i += 700) await submitAndTick(log, entries(Math.min(700, n - i), `e${i}`));
    const corrupt: StorageCorruptError[] = [];
    const scrub = new Scrubber({
      store,
      head: () => log.sequencer.head,
      entriesPerSecond: 1e9,
      onCorrupt: (e) => corrupt.push(e),
      log: silentLogger,
    });
    return { store, log, scrub, corrupt };
  }

  it('re-verifies every entry of an intact log', async () => {
    const { scrub } = await scrubbed(1500);
    expect(await scrub.pass()).toBe(1500);
  });

  it('finds a corrupt full tile, a corrupt bundle and a lost leaf-index record, naming them', async () => {
    for (const damage of ['tile', 'bundle', 'leaf'] as const) {
      const { store, scrub } = await scrubbed(1500);
      if (damage === 'leaf') store.dropLeaf(leafHash(utf8('e700-123')));
      else {
        const level = damage === 'tile' ? 0 : -1;
        const [data] = await store.readTiles([{ level, index: 1, width: 256 }]);
        const bad = data!.slice();
        bad[40]! ^= 1;
        store.corruptTile({ level, index: 1 }, bad);
      }
      const err = await scrub.pass().catch((e: unknown) => e);
      expect(err, damage).toBeInstanceOf(StorageCorruptError);
      expect((err as Error).message).toMatch(
        damage === 'tile'
          ? /tile\/0\/001 /
          : damage === 'bundle'
            ? /tile\/entries\/001 /
            : /leaf index .* 823/,
      );
    }
  });

  it('keeps to its rate', async () => {
    const { scrub } = await scrubbed(1024);
    const store = (scrub as unknown as { opts: { entriesPerSecond: number } }).opts;
    store.entriesPerSecond = 2048;
    const t0 = performance.now();
    await scrub.pass();
    // 1024 entries at 2048 per second: at least about half a second (only a lower bound is certain).
    expect(performance.now() - t0).toBeGreaterThan(400);
  });
});
