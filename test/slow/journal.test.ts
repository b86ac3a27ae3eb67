/**
 * The replicated journal and the sequencer lease against real nats-server
 * processes (test/helpers/nats.ts): one node for the journal's contract and
 * the lease, a three-node cluster with an R3 stream for a node killed with
 * SIGKILL and brought back.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, utf8 } from '../../ledger/bytes.js';
import { TreeAppender } from '../../ledger/appender.js';
import {
  BATCH_HEADER_BYTES,
  ENTRY_OVERHEAD_BYTES,
  HEADER_ROOM_BYTES,
  Journal,
  JournalConflictError,
  JournalGapError,
  JournalUnavailableError,
  type JournalRecord,
} from '../../services/journal/journal.js';
import { whileSettling } from '../../services/journal/jetstream.js';
import { Lease, LEASE_KEY, type LeaseLossReason } from '../../services/journal/lease.js';
import { leaseBucketName, publishCheckpoint, subjects } from '../../services/journal/subjects.js';
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from '../helpers/nats.js';
import type { JournalBatch } from '../../services/node/replicator.js';

/** A chain of batches with real RFC 9162 roots; candidates are built without committing. */
class Chain {
  readonly entries: Uint8Array[] = [];
  private n = 0;
  constructor(private readonly tag: string) {}

  /** A batch of `count` new entries after the committed ones (not committed). */
  candidate(count = 3, tag = this.tag): JournalBatch {
    const tree = new TreeAppender();
    for (const e of this.entries) tree.appendEntry(e);
    const firstIndex = tree.size;
    const entries = Array.from({ length: count }, () => utf8(`${tag} entry ${this.n++}`));
    for (const e of entries) tree.appendEntry(e);
    return { firstIndex, size: tree.size, root: tree.root(), entries };
  }

  commit(batch: JournalBatch): void {
    this.entries.push(...batch.entries);
  }

  next(count = 3): JournalBatch {
    const b = this.candidate(count);
    this.commit(b);
    return b;
  }
}

async function collect(it: AsyncIterable<JournalRecord>): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, f: () => Promise<T | null | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('journal on one nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let nc2: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    nc2 = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });
  afterAll(async () => {
    await nc?.close();
    await nc2?.close();
    await server?.dispose();
  });

  it('appends batches at the expected sequences and reads them back in order', async () => {
    const journal = await Journal.open(nc, 'one.test/appends');
    const chain = new Chain('a');
    const batches = [chain.next(1), chain.next(4), chain.next(2)];
    expect(await journal.lastSequence()).toBe(0);
    for (let i = 0; i < batches.length; i++) expect(await journal.append(batches[i]!, i)).toBe(i + 1);
    expect(await journal.lastSequence()).toBe(3);

    const all = await collect(journal.readUntilEnd());
    expect(all).toEqual(batches.map((batch, i) => ({ seq: i + 1, batch, storedAt: all[i]!.storedAt })));
    // Stored-at is the stream leader's clock: in order and recent.
    for (const [i, r] of all.entries()) {
      expect(Math.abs(Date.now() - r.storedAt)).toBeLessThan(60_000);
      if (i > 0) expect(r.storedAt).toBeGreaterThanOrEqual(all[i - 1]!.storedAt);
    }
    expect(await collect(journal.readUntilEnd(2, { firstIndex: batches[0]!.size }))).toEqual(all.slice(1));
    expect(await collect(journal.readUntilEnd(4))).toEqual([]);
    expect(await journal.get(2)).toEqual(all[1]);
    expect(await journal.get(4)).toBeNull();
    // Reading from the middle with a wrong starting index is a gap.
    await expect(collect(journal.readUntilEnd(2, { firstIndex: 0 }))).rejects.toBeInstanceOf(JournalGapError);
    await journal.close();
  });

  it('refuses a stale expected sequence and stores nothing; a retried append is idempotent', async () => {
    const journal = await Journal.open(nc, 'one.test/stale');
    const chain = new Chain('s');
    const b1 = chain.next();
    const b2 = chain.next();
    expect(await journal.append(b1, 0)).toBe(1);
    expect(await journal.append(b2, 1)).toBe(2);

    const rival = new Chain('rival');
    rival.next();
    const stale = rival.next();
    const err = await journal.append(stale, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalConflictError);
    expect((err as JournalConflictError).code).toBe('journal_conflict');
    expect((err as JournalConflictError).lastSequence).toBe(2);
    await expect(journal.append(chain.next(), 0)).rejects.toBeInstanceOf(JournalConflictError);
    expect(await journal.lastSequence()).toBe(2);

    // The same batch again (a retry whose acknowledgement was lost) gets its original sequence.
    expect(await journal.append(b2, 1)).toBe(2);
    expect(await journal.lastSequence()).toBe(2);
    expect((await collect(journal.readUntilEnd())).map((r) => r.batch)).toEqual([b1, b2]);
  });

  it('lets exactly one of two sequencers on two connections append at each position', async () => {
    const a = await Journal.open(nc, 'one.test/race');
    const b = await Journal.open(nc2, 'one.test/race');
    const chain = new Chain('race');
    const winners: JournalBatch[] = [];
    for (let round = 0; round < 20; round++) {
      const last = await a.lastSequence();
      const batches = [chain.candidate(2, 'A'), chain.candidate(2, 'B')];
      const results = await Promise.allSettled([a.append(batches[0]!, last), b.append(batches[1]!, last)]);
      const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ seq: r.value, i }] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(ok).toHaveLength(1);
      expect(ok[0]!.seq).toBe(last + 1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(JournalConflictError);
      // The loser steps down and rebuilds from the journal: the next round starts from the winner.
      winners.push(batches[ok[0]!.i]!);
      chain.commit(batches[ok[0]!.i]!);
    }
    const records = await collect(b.readUntilEnd());
    expect(records.map((r) => r.seq)).toEqual(winners.map((_, i) => i + 1));
    expect(records.map((r) => r.batch)).toEqual(winners);
  });

  it('follows live appends until aborted', async () => {
    const journal = await Journal.open(nc, 'one.test/follow');
    const writer = await Journal.open(nc2, 'one.test/follow');
    const chain = new Chain('f');
    await writer.append(chain.next(), 0);
    const abort = new AbortController();
    const seen: JournalRecord[] = [];
    const following = (async () => {
      for await (const r of journal.follow(1, { signal: abort.signal })) seen.push(r);
    })();
    await waitFor('the first batch', 5000, async () => seen.length === 1);
    for (let seq = 1; seq < 5; seq++) await writer.append(chain.next(), seq);
    await waitFor('five batches', 5000, async () => seen.length === 5);
    abort.abort();
    await following;
    expect(seen.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    // close() ends a follower too.
    const more = collect(journal.follow(3, { firstIndex: seen[1]!.batch.size }));
    await sleep(200);
    await journal.close();
    expect((await more).map((r) => r.seq)).toEqual([3, 4, 5]);
  });

  it('reports a batch that does not start where the previous one ended', async () => {
    const journal = await Journal.open(nc, 'one.test/gap');
    const chain = new Chain('g');
    await journal.append(chain.next(), 0);
    chain.next(); // skipped: never appended
    await journal.append(chain.next(), 1);
    const err = await collect(journal.readUntilEnd()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalGapError);
    expect((err as JournalGapError).code).toBe('journal_gap');
    expect((err as JournalGapError).seq).toBe(2);
  });

  it('caps batches at maxBatchBytes and refuses a cap the server cannot carry', async () => {
    const journal = await Journal.open(nc, 'one.test/cap', { maxBatchBytes: 4096 });
    const big: JournalBatch = {
      firstIndex: 0,
      size: 1,
      root: new Uint8Array(32),
      entries: [new Uint8Array(5000)],
    };
    await expect(journal.append(big, 0)).rejects.toBeInstanceOf(RangeError);
    expect(await journal.lastSequence()).toBe(0);
    const maxPayload = nc.info!.max_payload;
    await expect(
      Journal.open(nc, 'one.test/cap2', { maxBatchBytes: maxPayload - HEADER_ROOM_BYTES + 1 }),
    ).rejects.toBeInstanceOf(RangeError);
    // The largest batch the default cap allows goes through.
    const full = await Journal.open(nc, 'one.test/cap3');
    const entry = new Uint8Array(full.maxBatchBytes - BATCH_HEADER_BYTES - ENTRY_OVERHEAD_BYTES);
    const batch = { firstIndex: 0, size: 1, root: new Uint8Array(32).fill(7), entries: [entry] };
    expect(await full.append(batch, 0)).toBe(1);
    const back = (await full.get(1))!.batch;
    expect(equalBytes(back.entries[0]!, entry)).toBe(true); // (toEqual on 1 MiB takes seconds)
  });

  it('says when the server does not answer, and keeps every batch across a kill -9 of the server', async () => {
    const journal = await Journal.open(nc, 'one.test/restart', { appendTimeoutMs: 1500 });
    const chain = new Chain('k');
    const b1 = chain.next();
    await journal.append(b1, 0);
    await server.kill();
    const b2 = chain.candidate();
    const err = await journal.append(b2, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalUnavailableError);
    expect((err as JournalUnavailableError).code).toBe('journal_unavailable');
    await server.restart();
    // The outcome was unknown; here it was not stored, and the same append goes through once the
    // server is back (retried through the reconnect and the stream's recovery).
    // (A request sent while nats.js is still reconnecting can time out even after the reconnect:
    // its reply can arrive before the reply subscription is restored. Wait for the reconnect.)
    for (const c of [nc, nc2]) await waitFor('the reconnect', 10_000, () => c.flush().then(() => true));
    const again = await Journal.open(nc, 'one.test/restart');
    expect(await again.append(b2, 1)).toBe(2);
    chain.commit(b2);
    expect((await collect(journal.readUntilEnd())).map((r) => r.batch)).toEqual([b1, b2]);
  });

  it('publishes checkpoints on urna.<log>.checkpoint', async () => {
    const sub = nc2.subscribe(subjects('one.test/cp').checkpoint, { max: 1 });
    await nc2.flush();
    publishCheckpoint(nc, 'one.test/cp', 'one.test/cp\n1\nroot\n\n— sig\n');
    const got = await waitFor('the checkpoint', 5000, async () => {
      for await (const m of sub) return new TextDecoder().decode(m.data);
      return null;
    });
    expect(got).toBe('one.test/cp\n1\nroot\n\n— sig\n');
  });
});

describe('sequencer lease on one nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let nc2: NatsConnection;
  const TTL = 1000;

  beforeAll(async () => {
    server = await startNatsServer({ name: 'lease' });
    nc = await connect({ servers: server.url });
    nc2 = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nc2?.close();
    await server?.dispose();
  });

  it('has one holder; a standby takes over only after the holder stops renewing and the TTL passes', async () => {
    const origin = 'lease.test/takeover';
    const a = await Lease.open(nc, origin, 'seq-a', { ttlMs: TTL, url: 'http://127.0.0.1:1001' });
    const b = await Lease.open(nc2, origin, 'seq-b', { ttlMs: TTL, url: 'http://127.0.0.1:1002' });
    const got = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    expect(got.filter(Boolean)).toHaveLength(1);
    const [leader, standby] = got[0] ? [a, b] : [b, a];
    expect(leader.held).toBe(true);
    expect(standby.held).toBe(false);
    expect(await standby.holder()).toEqual({
      id: leader.holderId,
      url: leader === a ? 'http://127.0.0.1:1001' : 'http://127.0.0.1:1002',
    });

    // While the leader renews, the standby cannot take over, over several TTLs.
    const losses: LeaseLossReason[] = [];
    leader.onLost((r) => losses.push(r));
    leader.startRenewing();
    const until = Date.now() + 2.5 * TTL;
    while (Date.now() < until) {
      expect(await standby.tryAcquire()).toBe(false);
      await sleep(100);
    }
    expect(leader.held).toBe(true);

    // The leader stops renewing (a hung process): the standby gets the lease after the TTL,
    // and by then the old leader no longer believes it holds it.
    leader.stopRenewing();
    const stoppedAt = Date.now();
    await waitFor('the takeover', 5 * TTL, async () => {
      const ok = await standby.tryAcquire();
      if (ok) expect(leader.held).toBe(false); // at most one holder at any moment
      return ok;
    });
    const waited = Date.now() - stoppedAt;
    expect(waited).toBeGreaterThanOrEqual(TTL / 3); // a renewal happened at most ttl/3 before the stop
    expect(waited).toBeLessThan(3 * TTL);
    expect(await leader.renew()).toBe(false);
    expect(losses).toEqual(['expired']);
    expect((await leader.holder())?.id).toBe(standby.holderId);
    // Releasing lets the other take over at once.
    await standby.release();
    expect(await leader.tryAcquire()).toBe(true);
    await leader.release();
    a.close();
    b.close();
  });

  it('tells the holder it lost when its compare-and-swap fails', async () => {
    const origin = 'lease.test/cas';
    const a = await Lease.open(nc, origin, 'seq-a', { ttlMs: 5000 });
    const b = await Lease.open(nc2, origin, 'seq-b', { ttlMs: 5000 });
    expect(await a.tryAcquire()).toBe(true);
    expect(await a.renew()).toBe(true);
    const losses: LeaseLossReason[] = [];
    a.onLost((r) => losses.push(r));
    // An operator deletes the key; b takes over while a still believes it holds the lease.
    const kv = await nc2.jetstream().views.kv(leaseBucketName(origin));
    await kv.delete(LEASE_KEY);
    expect(await b.tryAcquire()).toBe(true);
    expect(a.held).toBe(true); // the lease alone cannot prevent this: the journal fences it
    expect(await a.renew()).toBe(false);
    expect(a.held).toBe(false);
    expect(losses).toEqual(['taken']);
    expect(await b.renew()).toBe(true);
    // A restarted process with the same id takes its own lease back.
    const b2 = await Lease.open(nc, origin, 'seq-b', { ttlMs: 5000 });
    expect(await b2.tryAcquire()).toBe(true);
    expect(await b.renew()).toBe(false);
    await b2.release();
    expect(await a.holder()).toBeNull();
    a.close();
    b.close();
    b2.close();
  });

  it('refuses a TTL that differs from the bucket', async () => {
    await Lease.open(nc, 'lease.test/ttl', 'x', { ttlMs: 2000 });
    await expect(Lease.open(nc, 'lease.test/ttl', 'y', { ttlMs: 3000 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('journal on a three-node cluster (R3)', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await cluster.connect();
  });
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  /** The stream's last sequence as stored on one node (its own replica, from /jsz). */
  async function localLastSeq(node: NatsServer, stream: string): Promise<number> {
    interface Jsz {
      account_details?: Array<{ stream_detail?: Array<{ name: string; state: { last_seq: number } }> }>;
    }
    const jsz = await node.monitor<Jsz>('/jsz?streams=true');
    const s = jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === stream);
    return s?.state.last_seq ?? -1;
  }

  it('keeps appending when a node is killed with SIGKILL, and the node catches up when it returns', async () => {
    const origin = 'cluster.test/log';
    const journal = await Journal.open(nc, origin, { replicas: 3, appendTimeoutMs: 30_000 });
    const chain = new Chain('r3');
    const appended: JournalBatch[] = [];
    const append = async () => {
      const b = chain.next();
      expect(await journal.append(b, appended.length)).toBe(appended.length + 1);
      appended.push(b);
    };
    for (let i = 0; i < 5; i++) await append();

    // Two sequencers on connections to different nodes race at one position: one wins.
    const ncA = await connect({ servers: cluster.servers[0]!.url });
    const ncB = await connect({ servers: cluster.servers[2]!.url });
    const [ja, jb] = await Promise.all([
      Journal.open(ncA, origin, { replicas: 3 }),
      Journal.open(ncB, origin, { replicas: 3 }),
    ]);
    const rivals = [chain.candidate(2, 'rival-a'), chain.candidate(2, 'rival-b')];
    const race = await Promise.allSettled([ja.append(rivals[0]!, 5), jb.append(rivals[1]!, 5)]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(JournalConflictError);
    const winner = rivals[race.findIndex((r) => r.status === 'fulfilled')]!;
    appended.push(winner);
    chain.commit(winner);
    await ncA.close();
    await ncB.close();

    // A mirror follows the journal through both failures.
    const ncF = await cluster.connect();
    const follower = await Journal.open(ncF, origin, { replicas: 3 });
    const followed: JournalRecord[] = [];
    const following = (async () => {
      for await (const r of follower.follow()) followed.push(r);
    })();

    const jsm = await nc.jetstreamManager();
    // Stream info is a JetStream API request: right after a kill it can time out while the cluster settles.
    const streamLeader = async (): Promise<string> =>
      (await whileSettling(() => jsm.streams.info(journal.stream))).cluster?.leader ?? '';
    // Round 1 kills the stream leader; round 2 the node the follower is connected to (or another follower).
    for (const round of [1, 2]) {
      const leader = await streamLeader();
      const followerHost = cluster.servers.find((s) => s.url.endsWith(ncF.getServer()))?.name;
      const victimName =
        round === 1
          ? leader
          : followerHost && followerHost !== leader
            ? followerHost
            : cluster.servers.find((s) => s.name !== leader)!.name;
      const victim = cluster.servers.find((s) => s.name === victimName)!;
      await victim.kill();
      const t0 = performance.now();
      await append(); // may wait out the election of a new stream leader
      const firstMs = performance.now() - t0;
      for (let i = 0; i < 4; i++) await append();
      if (round === 1) expect(await streamLeader()).not.toBe(leader);
      console.log(
        `journal round ${round}: killed ${victim.name} (stream leader ${leader}); ` +
          `first append took ${firstMs.toFixed(0)} ms`,
      );

      // Bring it back: its own replica catches up (its /jsz, not the leader's view).
      await victim.restart();
      await waitFor(`${victim.name} to catch up to ${appended.length}`, 30_000, async () => {
        return (await localLastSeq(victim, journal.stream)) === appended.length;
      });
      await append();
    }
    for (const node of cluster.servers) {
      await waitFor(`${node.name} at ${appended.length}`, 10_000, async () => {
        return (await localLastSeq(node, journal.stream)) === appended.length;
      });
    }
    await waitFor(
      `the follower at ${appended.length}`,
      10_000,
      async () => followed.length === appended.length,
    );
    await follower.close();
    await following;
    expect(followed.map((r) => r.batch)).toEqual(appended);
    await ncF.close();

    // Every node serves the whole chain to a client connected to it alone.
    for (const node of cluster.servers) {
      const ncN = await connect({ servers: node.url });
      try {
        const jn = await Journal.open(ncN, origin, { replicas: 3 });
        expect((await collect(jn.readUntilEnd())).map((r) => r.batch)).toEqual(appended);
      } finally {
        await ncN.close();
      }
    }
  });
});
