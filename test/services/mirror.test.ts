/**
 * The Mirror (services/mirror/mirror.ts) in process, with no NATS: a real
 * Sequencer over a MemoryStore appends its batches to an in-memory journal
 * (test/helpers/mirror.ts), and a Mirror over another MemoryStore follows
 * that journal, with a checkpoint feed the test drives.
 *  - it rebuilds byte-identical tiles and bundles, and serves a signed
 *    checkpoint only once it applied the batches up to its size (one ahead
 *    of it waits for them);
 *  - it ignores checkpoints with a bad signature, of another origin, or
 *    older than the served one; it stops, with the evidence, on two signed
 *    roots for one size (split view), on a signed root the journal does not
 *    give, and on a journal batch whose root does not match;
 *  - it refuses submissions (NotLeaderError), hands out receipts that verify
 *    against the log key, resumes after a restart at its stored journal
 *    sequence, and refuses to open over corrupt stored tiles.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../ledger/bytes.js';
import { openCheckpoint, signCheckpoint, formatCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError } from '../../ledger/errors.js';
import { leafHash, type Hash } from '../../ledger/hash.js';
import { generateSignerKey, parseSignerKey, signNote, type NoteVerifier } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import { entryBundlesForSize, tilesForSize, TILE_WIDTH, type Tile } from '../../ledger/tile.js';
import { buildApp } from '../../services/api/app.js';
import { NotLeaderError, type LogNode } from '../../services/node/log-node.js';
import { Registry } from '../../services/metrics.js';
import { Mirror } from '../../services/mirror/mirror.js';
import { acceptAll } from '../../services/node/admission.js';
import { TileCache } from '../../services/node/tile-cache.js';
import { StorageCorruptError } from '../../services/storage/errors.js';
import { MemoryStore } from '../../services/storage/memory.js';
import { tileStoreKey as tileKey } from '../../services/storage/store.js';
import { entries, openTestLog, submitAndTick, testKeys, type TestLog } from '../helpers/log.js';
import { ManualCheckpoints, MemoryJournal, waitUntil } from '../helpers/mirror.js';

const ORIGIN = 'mirror.example/log';

/** Batch sizes: 1,316 entries, so 5 full level-0 tiles, a partial one (width 36) and a partial level-1 tile (width 5). */
const BATCHES = [1, 255, 300, 10, 700, 50];

interface Fixture {
  keys: ReturnType<typeof testKeys>;
  journal: MemoryJournal;
  log: TestLog;
  /** Every entry of the log, by index. */
  all: Uint8Array[];
}

/** A sequencer that appended BATCHES (or `sizes`) to an in-memory journal. */
async function sequenced(sizes = BATCHES, opts: { visible?: number } = {}): Promise<Fixture> {
  const keys = testKeys(ORIGIN);
  const journal = new MemoryJournal(opts);
  const log = await openTestLog({ replicator: journal.replicator(), signerKey: keys.signerKey });
  const all: Uint8Array[] = [];
  for (const [i, n] of sizes.entries()) {
    const batch = entries(n, `batch ${i}`);
    await submitAndTick(log, batch);
    all.push(...batch);
  }
  expect(log.sequencer.head.size).toBe(all.length);
  expect(journal.batches.map((b) => b.entries.length)).toEqual(sizes);
  return { keys, journal, log, all };
}

/** Adds a batch to the fixture's log (and journal). */
async function sequenceMore(f: Fixture, n: number, tag: string): Promise<void> {
  const batch = entries(n, tag);
  await submitAndTick(f.log, batch);
  f.all.push(...batch);
}

interface OpenedMirror {
  mirror: Mirror;
  store: MemoryStore;
  checkpoints: ManualCheckpoints;
  metrics: Registry;
}

async function openMirror(
  f: Pick<Fixture, 'journal'>,
  verifier: NoteVerifier,
  opts: { store?: MemoryStore; leader?: string } = {},
): Promise<OpenedMirror> {
  const store = opts.store ?? new MemoryStore();
  const checkpoints = new ManualCheckpoints();
  const metrics = new Registry();
  const mirror = await Mirror.open({
    store,
    tiles: new TileCache(store),
    admission: acceptAll,
    verifier,
    follow: f.journal.follow,
    checkpoints,
    metrics,
    ...(opts.leader ? { leader: () => opts.leader! } : {}),
  });
  return { mirror, store, checkpoints, metrics };
}

/** Waits until the mirror applied the journal up to `seq`. */
function applied(mirror: Mirror, seq: number): Promise<void> {
  return waitUntil(() => mirror.sequence >= seq || mirror.fatal !== null, `journal sequence ${seq}`);
}

/** Waits until the mirror serves `note`. */
function serves(mirror: Mirror, note: string): Promise<void> {
  return waitUntil(
    () => mirror.head.checkpoint === note || mirror.fatal !== null,
    `the mirror to serve size ${note.split('\n')[1]}`,
  );
}

/** A started mirror that applied all of `f`'s journal and serves the sequencer's checkpoint. */
async function caughtUp(f: Fixture): Promise<OpenedMirror> {
  const m = await openMirror(f, f.keys.verifier);
  m.mirror.start();
  m.checkpoints.publish(f.log.sequencer.head.checkpoint);
  await serves(m.mirror, f.log.sequencer.head.checkpoint);
  expect(m.mirror.fatal).toBeNull();
  return m;
}

function sizeOf(note: string, verifier: NoteVerifier): number {
  return openCheckpoint(note, verifier).checkpoint.size;
}

function refused(metrics: Registry): number {
  return Number(/^urna_mirror_checkpoints_refused_total (\d+)$/m.exec(metrics.render())?.[1] ?? NaN);
}

/** Every hash tile and entry bundle of a tree of `size`, at its width. */
function allTiles(size: number): Tile[] {
  return [...tilesForSize(size), ...entryBundlesForSize(size)];
}

/** `note` with one bit of its signature flipped (same key, same text). */
function badSignature(note: string): string {
  const lines = note.split('\n');
  const i = lines.findIndex((l) => l.startsWith('— '));
  const parts = lines[i]!.split(' ');
  const sig = fromBase64(parts[2]!);
  sig[sig.length - 1] = sig[sig.length - 1]! ^ 1;
  parts[2] = toBase64(sig);
  lines[i] = parts.join(' ');
  return lines.join('\n');
}

/** A copy of `data` with byte `offset` flipped. */
function flipped(data: Uint8Array, offset: number): Uint8Array {
  const out = data.slice();
  out[offset] = out[offset]! ^ 0xff;
  return out;
}

describe('mirror', () => {
  it('rebuilds byte-identical tiles, bundles and journal sequence from the journal', async () => {
    const f = await sequenced();
    const { mirror, store } = await caughtUp(f);
    try {
      expect(mirror.sequence).toBe(f.journal.batches.length);
      expect(mirror.head.size).toBe(f.all.length);
      const size = f.all.length;
      const tiles = allTiles(size);
      expect(tiles.some((t) => t.level === 1)).toBe(true);
      const [mine, theirs] = await Promise.all([store.readTiles(tiles), f.log.store.readTiles(tiles)]);
      tiles.forEach((t, i) => {
        expect(mine[i], tileKey(t)).not.toBeNull();
        expect(Buffer.from(mine[i]!).equals(Buffer.from(theirs[i]!)), tileKey(t)).toBe(true);
      });
      const [head, seqHead] = await Promise.all([store.readHead(), f.log.store.readHead()]);
      expect(head).toEqual(seqHead);
      expect(await store.readExtra('j/seq')).toEqual(await f.log.store.readExtra('j/seq'));
      expect(await store.readCheckpoint()).toBe(f.log.sequencer.head.checkpoint);
      expect(mirror.status()).toMatchObject({
        role: 'mirror',
        ok: true,
        journal: { sequence: f.journal.batches.length, behind: 0 },
      });
    } finally {
      await mirror.stop();
    }
  });

  it('serves a checkpoint only once it applied the batches up to its size; one ahead waits for them', async () => {
    const f = await sequenced(BATCHES, { visible: 0 });
    const { mirror, checkpoints, store } = await openMirror(f, f.keys.verifier);
    try {
      mirror.start();
      const latest = f.log.sequencer.head.checkpoint;
      checkpoints.publish(latest);
      await mirror.offer(latest); // the queue has settled
      expect(mirror.head.checkpoint).toBe('');
      expect(mirror.head.size).toBe(0);
      expect(mirror.status().journal?.behind).toBe(f.all.length);
      expect(await store.readCheckpoint()).toBeNull();

      // Batches up to the third arrive: the checkpoint at that size is served, the latest still waits.
      const third = f.journal.batches[2]!.size;
      const atThird = f.journal.published.find((n) => sizeOf(n, f.keys.verifier) === third)!;
      f.journal.release(3);
      await applied(mirror, 3);
      expect(mirror.head.checkpoint).toBe('');
      checkpoints.publish(atThird);
      await serves(mirror, atThird);
      expect(mirror.head.size).toBe(third);
      expect(mirror.status().journal?.behind).toBe(f.all.length - third);

      // One batch short of the latest: still not served.
      f.journal.release(f.journal.batches.length - 1);
      await applied(mirror, f.journal.batches.length - 1);
      await mirror.offer(atThird);
      expect(mirror.head.size).toBe(third);

      // The last batch arrives: the waiting checkpoint is proven and served, without being offered again.
      f.journal.release();
      await serves(mirror, latest);
      expect(mirror.head.size).toBe(f.all.length);
      expect(mirror.status()).toMatchObject({ ok: true, journal: { behind: 0, lagSeconds: 0 } });
      expect(await store.readCheckpoint()).toBe(latest);
    } finally {
      await mirror.stop();
    }
  });

  it('ignores checkpoints with a bad signature, another key or origin, or older than the served one', async () => {
    const f = await sequenced();
    const { mirror, checkpoints, metrics } = await caughtUp(f);
    try {
      const served = mirror.head.checkpoint;
      const { checkpoint } = openCheckpoint(served, f.keys.verifier);
      const bigger = { ...checkpoint, size: checkpoint.size + 1, root: new Uint8Array(32).fill(7) };
      const other = parseSignerKey(generateSignerKey('other.example/log').signerKey);
      const sameNameOtherKey = parseSignerKey(generateSignerKey(ORIGIN).signerKey);
      const older = f.journal.published.find((n) => sizeOf(n, f.keys.verifier) === BATCHES[0])!;
      const before = refused(metrics);
      const bad = [
        badSignature(signCheckpoint(bigger, f.keys.signer)),
        // Signed by the log's key, but naming another origin.
        signNote(formatCheckpoint({ ...bigger, origin: 'other.example/log' }), [f.keys.signer]),
        // Another log's checkpoint, and one by another key that has the log's name.
        signCheckpoint({ ...bigger, origin: 'other.example/log' }, other),
        signCheckpoint(bigger, sameNameOtherKey),
        'not a checkpoint\n',
      ];
      for (const note of bad) {
        checkpoints.publish(note);
        await mirror.offer(note);
      }
      expect(refused(metrics) - before).toBe(bad.length * 2);
      // An older checkpoint of the log (valid) is no news: ignored, not refused.
      await mirror.offer(older);
      expect(refused(metrics) - before).toBe(bad.length * 2);
      expect(mirror.head.checkpoint).toBe(served);
      expect(mirror.status()).toMatchObject({ ok: true, journal: { behind: 0 } });
      expect(mirror.fatal).toBeNull();
      // Still following: a new batch and its checkpoint are served.
      await sequenceMore(f, 3, 'after the bad ones');
      checkpoints.publish(f.log.sequencer.head.checkpoint);
      await serves(mirror, f.log.sequencer.head.checkpoint);
    } finally {
      await mirror.stop();
    }
  });

  it('stops on a split view (two signed roots for one size), with both notes in its error', async () => {
    const f = await sequenced();
    const { mirror, checkpoints, store, metrics } = await caughtUp(f);
    const app = await buildApp({ node: mirror, store, metrics });
    try {
      const served = mirror.head.checkpoint;
      const { checkpoint } = openCheckpoint(served, f.keys.verifier);
      const forged = signCheckpoint({ ...checkpoint, root: new Uint8Array(32).fill(0xab) }, f.keys.signer);
      checkpoints.publish(forged);
      await waitUntil(() => mirror.fatal !== null, 'the mirror to stop');
      expect(mirror.fatal).toBeInstanceOf(InconsistentError);
      const status = mirror.status();
      expect(status.ok).toBe(false);
      expect(status.error).toMatch(/split view/);
      expect(status.error).toContain(served);
      expect(status.error).toContain(forged);
      // It keeps serving what it proved, but says it is not healthy; it follows no more.
      expect(mirror.head.checkpoint).toBe(served);
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(503);
      expect(checkpoints.subscribers).toBe(0);
      await sequenceMore(f, 2, 'after the split view');
      checkpoints.publish(f.log.sequencer.head.checkpoint);
      await mirror.offer(f.log.sequencer.head.checkpoint);
      expect(mirror.head.checkpoint).toBe(served);
    } finally {
      await app.close();
      await mirror.stop();
    }
  });

  it('stops on a signed checkpoint whose root the journal does not give', async () => {
    const f = await sequenced(BATCHES, { visible: 2 });
    const { mirror, checkpoints } = await openMirror(f, f.keys.verifier);
    try {
      mirror.start();
      await applied(mirror, 2);
      // A checkpoint signed by the log at the size of batch 4, over a root the journal does not give.
      const size = f.journal.batches[3]!.size;
      const forged = signCheckpoint(
        { origin: ORIGIN, size, root: new Uint8Array(32).fill(0xcd), extensions: [] },
        f.keys.signer,
      );
      checkpoints.publish(forged);
      await mirror.offer(forged);
      expect(mirror.fatal).toBeNull(); // ahead of the applied tree: it waits
      f.journal.release();
      await waitUntil(() => mirror.fatal !== null, 'the mirror to stop');
      expect(mirror.fatal).toBeInstanceOf(InconsistentError);
      expect(mirror.status().ok).toBe(false);
      expect(mirror.status().error).toMatch(/journal does not hold/);
      expect(mirror.status().error).toContain(forged);
      expect(mirror.head.checkpoint).toBe('');
    } finally {
      await mirror.stop();
    }
  });

  it('stops on a journal batch whose root does not match, committing none of it', async () => {
    const f = await sequenced(BATCHES, { visible: 3 });
    const { mirror, store } = await openMirror(f, f.keys.verifier);
    try {
      mirror.start();
      await applied(mirror, 3);
      const good = f.journal.batches[3]!;
      f.journal.batches[3] = { ...good, root: new Uint8Array(32) };
      f.journal.release();
      await waitUntil(() => mirror.fatal !== null, 'the mirror to stop');
      expect(mirror.fatal).toBeInstanceOf(InconsistentError);
      expect(mirror.fatal!.message).toMatch(/journal batch 4: root at size \d+ does not match/);
      expect(mirror.status().ok).toBe(false);
      expect(mirror.sequence).toBe(3);
      expect((await store.readHead())?.size).toBe(f.journal.batches[2]!.size);
    } finally {
      await mirror.stop();
    }
  });

  it('refuses submissions with NotLeaderError naming the leader when known', async () => {
    const f = await sequenced([3]);
    const plain = await openMirror(f, f.keys.verifier);
    const led = await openMirror(f, f.keys.verifier, { leader: 'http://leader.example:8080' });
    const node: LogNode = plain.mirror;
    const e1 = await node.submit(utf8('x')).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NotLeaderError);
    expect((e1 as NotLeaderError).role).toBe('mirror');
    expect((e1 as NotLeaderError).leader).toBeNull();
    const e2 = await (led.mirror as LogNode).submit(utf8('x')).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(NotLeaderError);
    expect((e2 as NotLeaderError).leader).toBe('http://leader.example:8080');
    expect((e2 as Error).message).toContain('http://leader.example:8080');
    const app = await buildApp({ node: led.mirror, store: led.store, metrics: led.metrics });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/add',
        payload: Buffer.from('x'),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'not_leader' } });
      expect(led.store.commits).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('hands out receipts that verify against the log key (the same bytes as the sequencer)', async () => {
    const f = await sequenced();
    const { mirror } = await caughtUp(f);
    try {
      const n = f.all.length;
      for (const index of [0, 1, 255, 256, 511, 700, 1023, 1024, n - 37, n - 1]) {
        const leaf: Hash = leafHash(f.all[index]!);
        const r = await mirror.receiptFor(index, leaf);
        expect(r.index).toBe(index);
        expect(r.checkpoint).toBe(mirror.head.checkpoint);
        const { checkpoint } = verifyReceipt(r.receipt, { leafHash: leaf }, f.keys.verifier);
        expect(checkpoint.size).toBe(n);
        expect(r.receipt).toBe((await f.log.sequencer.receiptFor(index, leaf)).receipt);
      }
      // The wrong leaf for an index: refused, never a receipt that would not verify.
      await expect(mirror.receiptFor(5, leafHash(f.all[6]!))).rejects.toThrow();
    } finally {
      await mirror.stop();
    }
  });

  it('resumes after a restart at its stored journal sequence and re-serves its stored checkpoint', async () => {
    const f = await sequenced();
    const first = await caughtUp(f);
    const served = first.mirror.head.checkpoint;
    const seq = first.mirror.sequence;
    await first.mirror.stop();
    const again = await openMirror(f, f.keys.verifier, { store: first.store });
    try {
      expect(again.mirror.sequence).toBe(seq);
      expect(again.mirror.head.checkpoint).toBe(served);
      expect(again.mirror.head.size).toBe(f.all.length);
      const commits = first.store.commits;
      await sequenceMore(f, 300, 'after the restart');
      again.mirror.start();
      again.checkpoints.publish(f.log.sequencer.head.checkpoint);
      await serves(again.mirror, f.log.sequencer.head.checkpoint);
      expect(f.journal.follows.at(-1)).toBe(seq + 1);
      expect(first.store.commits).toBe(commits + 1); // the new batch alone
      expect(again.mirror.status()).toMatchObject({ ok: true, journal: { sequence: seq + 1 } });
      const leaf = leafHash(f.all.at(-1)!);
      verifyReceipt(
        (await again.mirror.receiptFor(f.all.length - 1, leaf)).receipt,
        { leafHash: leaf },
        f.keys.verifier,
      );
    } finally {
      await again.mirror.stop();
    }
  });

  describe('over corrupt stored tiles', () => {
    const size = BATCHES.reduce((a, b) => a + b, 0);
    const cases: Array<{ name: string; tile: Tile; offset: number }> = [
      {
        name: 'the partial (rightmost) level-0 tile',
        tile: { level: 0, index: Math.floor(size / TILE_WIDTH), width: size % TILE_WIDTH },
        offset: 3 * 32 + 7,
      },
      {
        name: 'the (partial) level-1 tile',
        tile: { level: 1, index: 0, width: Math.floor(size / TILE_WIDTH) },
        offset: 2 * 32,
      },
    ];
    it.each(cases)(
      'refuses to open when $name is corrupt (StorageCorruptError)',
      async ({ tile, offset }) => {
        const f = await sequenced();
        const first = await caughtUp(f);
        await first.mirror.stop();
        const [good] = await first.store.readTiles([tile]);
        expect(good!.length).toBe(tile.width * 32);
        first.store.corruptTile(tile, flipped(good!, offset));
        const opened = await openMirror(f, f.keys.verifier, { store: first.store }).catch((e: unknown) => e);
        expect(opened).toBeInstanceOf(StorageCorruptError);
        // Restored, it opens and serves its checkpoint again.
        first.store.corruptTile(tile, good!);
        const again = await openMirror(f, f.keys.verifier, { store: first.store });
        expect(again.mirror.head.checkpoint).toBe(f.log.sequencer.head.checkpoint);
      },
    );

    it('never hands out a receipt built from a corrupt full level-0 tile off the root path', async () => {
      const f = await sequenced();
      const first = await caughtUp(f);
      await first.mirror.stop();
      const tile: Tile = { level: 0, index: 2, width: TILE_WIDTH };
      const [good] = await first.store.readTiles([tile]);
      first.store.corruptTile(tile, flipped(good!, 5 * 32));
      const opened = await openMirror(f, f.keys.verifier, { store: first.store }).catch((e: unknown) => e);
      if (opened instanceof Error) {
        expect(opened).toBeInstanceOf(StorageCorruptError);
        return;
      }
      const { mirror } = opened as OpenedMirror;
      // Entry 512 + 4's proof starts with the (corrupt) leaf hash at 512 + 5.
      const index = 2 * TILE_WIDTH + 4;
      await expect(mirror.receiptFor(index, leafHash(f.all[index]!))).rejects.toBeInstanceOf(
        StorageCorruptError,
      );
      // Entries whose proofs do not touch that tile still get receipts that verify.
      const leaf = leafHash(f.all[10]!);
      verifyReceipt((await mirror.receiptFor(10, leaf)).receipt, { leafHash: leaf }, f.keys.verifier);
    });
  });
});
