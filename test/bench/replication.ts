/**
 * Replication benchmarks (`npm run bench -- replication`), each figure
 * beside a limit measured in the same run:
 *
 * - limits: LevelDB synced batches, the trivial POST ceiling of the same
 *   fastify setup, and JetStream acknowledged appends (one in flight, as the
 *   sequencer appends) on one NATS node (R1) and on a 3-node cluster (R3);
 * - the reference: single-node `urna serve --rules none` (no NATS) loaded
 *   with POSTs of unique entries, as the http bench does;
 * - optional: one sequencer with its journal on a single NATS node (R1);
 * - replicated: a 3-node NATS cluster, journal R3, two sequencers (one
 *   leader, one standby) and two `urna mirror`s; the leader loaded exactly
 *   like the reference; the ratio to it;
 * - mirror lag at half of the replicated rate: for each checkpoint the
 *   leader publishes (subscribed on `urna.<log>.checkpoint`, so the time is
 *   when it reached us), the time until each mirror's GET /checkpoint
 *   serves that size or more (mirrors polled every 20 ms; a served size is
 *   timed when its answer arrives, so lags are upper bounds); plus the mean
 *   of the mirrors' own `urna_mirror_apply_delay_seconds` (journal stored →
 *   applied) over the same window;
 * - failover: 32 clients submitting (following 503 not_leader → Urna-Leader,
 *   or trying the other sequencer when a connection fails), kill -9 the
 *   leader, time from the kill to the first 201 from the other sequencer;
 *   the killed one is restarted as a standby (same --node-id and data dir)
 *   each time; for the default lease TTL (3000 ms) and for 1500 ms (its own
 *   log, since a lease bucket's TTL is fixed).
 *
 * Every wait is bounded; every process is killed in `finally` (and at exit).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, StorageType, type NatsConnection } from 'nats';
import { generateSignerKey } from '../../ledger/note.js';
import { subjects } from '../../services/journal/subjects.js';
import { tempDir } from '../helpers/log.js';
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from '../helpers/nats.js';
import { startMirror, startServer, type ServerProcess } from '../helpers/process.js';
import { loadPosts, loadPostsWarm, writeLimits, type LoadResult } from './http.js';
import type { Report } from './report.js';

/** Batch period of every sequencer here (as in the http bench). */
const BATCH_MS = 100;
/** Mirror /checkpoint poll period for the lag measurement. */
const POLL_MS = 20;
/** Clients during the failover runs. */
const FAILOVER_CONNECTIONS = 32;
/** Payload of the JetStream append limit: about one 100 ms batch at ~2,500 entries/s. */
const JS_LIMIT_BYTES = 32 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

/** Every urna process this bench started and has not yet seen exit: SIGKILLed at exit, whatever happens. */
const live = new Set<ServerProcess>();
let exitHook = false;

function track(p: ServerProcess): ServerProcess {
  live.add(p);
  void p.exited.then(() => live.delete(p));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const q of live) q.proc.kill('SIGKILL');
    });
  }
  return p;
}

/** kill -9 every tracked process that is still running, and wait for them. */
async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

/** One sequencer of a replicated log: its fixed arguments, and the running process (null while dead). */
interface Sequencer {
  id: string;
  args: string[];
  proc: ServerProcess;
}

async function startSequencer(id: string, args: string[]): Promise<Sequencer> {
  return { id, args, proc: track(await startServer(args)) };
}

// ---------------------------------------------------------------- HTTP probes

async function getJson<T>(url: string, timeoutMs = 2000): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as T;
  } catch {
    return null;
  }
}

async function getText(url: string, timeoutMs = 2000): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return res.ok ? text : null;
  } catch {
    return null;
  }
}

interface Health {
  role?: string;
  ok?: boolean;
  size?: number;
}

async function roleOf(url: string): Promise<string | null> {
  const h = await getJson<Health>(`${url}/healthz`);
  return h?.ok ? (h.role ?? null) : null;
}

/** The size of the checkpoint a node serves (-1 if it does not answer). */
async function servedSize(url: string): Promise<number> {
  const note = await getText(`${url}/checkpoint`);
  const size = Number(note?.split('\n')[1]);
  return Number.isSafeInteger(size) ? size : -1;
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined; throws after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`bench: ${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Waits until exactly one of `seqs` reports role leader; returns [leader, the others]. */
async function findLeader(seqs: Sequencer[], timeoutMs = 30_000): Promise<[Sequencer, Sequencer[]]> {
  return waitFor('one sequencer leads', timeoutMs, async () => {
    const roles = await Promise.all(seqs.map((s) => roleOf(s.proc.url)));
    if (roles.filter((r) => r === 'leader').length !== 1) return undefined;
    const i = roles.indexOf('leader');
    return [seqs[i]!, seqs.filter((_, j) => j !== i)] as [Sequencer, Sequencer[]];
  });
}

/** A histogram's `_sum` and `_count` from a node's /metrics (zeros if absent). */
async function histogram(url: string, name: string): Promise<{ sum: number; count: number }> {
  const text = (await getText(`${url}/metrics`)) ?? '';
  const value = (suffix: string) => Number(new RegExp(`^${name}${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('_sum'), count: value('_count') };
}

// ---------------------------------------------------------------- statistics

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? NaN,
    p50: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? NaN,
  };
}

const ms = (v: number) => `${Math.round(v).toLocaleString('en-US')} ms`;

// ---------------------------------------------------------------- limits

/**
 * JetStream acknowledged appends per second with one in flight and an
 * expected last sequence, as the sequencer appends its batches: a temporary
 * file stream with `replicas` replicas on `nc`, `bytes` per message, for
 * `durationMs`. The stream is deleted afterwards.
 */
async function jetstreamAppendRate(
  nc: NatsConnection,
  replicas: 1 | 3,
  bytes: number,
  durationMs: number,
): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const name = `urna_bench_limit_${process.pid}_${Date.now()}`;
  const subject = `urna.bench.limit.${process.pid}.${Date.now()}`;
  await jsm.streams.add({ name, subjects: [subject], num_replicas: replicas, storage: StorageType.File });
  try {
    const js = nc.jetstream();
    const payload = new Uint8Array(bytes).fill(7);
    let seq = 0;
    const start = performance.now();
    while (performance.now() - start < durationMs) {
      const ack = await js.publish(subject, payload, { expect: { lastSequence: seq }, timeout: 10_000 });
      seq = ack.seq;
    }
    return seq / ((performance.now() - start) / 1000);
  } finally {
    await jsm.streams.delete(name).catch(() => false);
  }
}

// ---------------------------------------------------------------- mirror lag

interface LagResult {
  load: LoadResult;
  checkpoints: number;
  /** Per mirror: the lag of each published checkpoint it came to serve (ms). */
  lags: number[][];
  /** Per mirror: published checkpoints it had not served when the wait ended. */
  unserved: number[];
}

/**
 * Loads the leader at `rate` entries/s for `seconds` while timing, for each
 * checkpoint published on the log's checkpoint subject, when each mirror
 * first serves that size or more. After the load, waits (at most 60 s) for
 * the mirrors to serve the last published checkpoint.
 */
async function measureLag(
  nc: NatsConnection,
  origin: string,
  leader: string,
  mirrors: string[],
  opts: { seconds: number; connections: number; rate: number },
): Promise<LagResult> {
  const published: Array<{ size: number; t: number }> = [];
  const sub = nc.subscribe(subjects(origin).checkpoint);
  const reading = (async () => {
    for await (const m of sub) {
      const t = performance.now();
      const size = Number(new TextDecoder().decode(m.data).split('\n')[1]);
      if (Number.isSafeInteger(size) && size > (published.at(-1)?.size ?? -1)) published.push({ size, t });
    }
  })();
  const lags: number[][] = mirrors.map(() => []);
  const next = mirrors.map(() => 0); // per mirror: the first published checkpoint not yet served
  let polling = true;
  const pollers = mirrors.map(async (url, i) => {
    while (polling) {
      const size = await servedSize(url);
      const t = performance.now();
      while (next[i]! < published.length && published[next[i]!]!.size <= size) {
        lags[i]!.push(t - published[next[i]!]!.t);
        next[i]!++;
      }
      await sleep(POLL_MS);
    }
  });
  try {
    const load = await loadPosts(leader, opts.seconds, opts.connections, opts.rate);
    await sleep(500); // the last checkpoints reach us
    sub.unsubscribe();
    await reading;
    await waitFor(
      'mirrors serve the last published checkpoint',
      60_000,
      async () => (next.every((n) => n >= published.length) ? true : undefined),
      POLL_MS,
    ).catch(() => {}); // reported as unserved
    return {
      load,
      checkpoints: published.length,
      lags,
      unserved: next.map((n) => published.length - n),
    };
  } finally {
    polling = false;
    sub.unsubscribe();
    await Promise.all(pollers);
  }
}

// ---------------------------------------------------------------- failover

/**
 * `connections` clients submitting unique entries in a closed loop to the
 * sequencers' current URLs: a 503 with Urna-Leader sends a client there; a
 * 503 without it, a failed connection or a timeout sends it to another
 * sequencer after 20 ms. Records when each 201 arrived and from which URL.
 */
class FailoverLoad {
  private running = true;
  private readonly workers: Promise<void>[];
  readonly oks: Array<{ url: string; t: number }> = [];
  errors = 0;

  constructor(
    private readonly urls: () => string[],
    connections: number,
    tag: string,
  ) {
    this.workers = Array.from({ length: connections }, (_, w) => this.work(w, `${tag}-${w}`));
  }

  private other(url: string): string {
    const urls = this.urls();
    return urls.find((u) => u !== url) ?? urls[0]!;
  }

  private async work(w: number, tag: string): Promise<void> {
    let url = this.urls()[w % this.urls().length]!;
    let n = 0;
    while (this.running) {
      try {
        const res = await fetch(`${url}/add`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: `${tag}-${n++}-${'x'.repeat(100)}`,
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        if (res.status === 201 || res.status === 200) {
          this.oks.push({ url, t: performance.now() });
          continue;
        }
        this.errors++;
        const leader = res.status === 503 ? res.headers.get('urna-leader') : null;
        if (leader && leader !== url) {
          url = leader;
          continue;
        }
      } catch {
        this.errors++;
      }
      url = this.other(url);
      await sleep(20);
    }
  }

  /** The time of the first 201 from `url` after `after`; waits at most `timeoutMs`. */
  firstOk(url: string, after: number, timeoutMs: number): Promise<number> {
    return waitFor(
      `a 201 from ${url}`,
      timeoutMs,
      async () => this.oks.find((o) => o.url === url && o.t > after)?.t,
      5,
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }
}

/**
 * `reps` times: load the sequencers, kill -9 the leader, time the first
 * 201 from the standby; restart the killed one as a standby. Returns the
 * failover times (ms).
 */
async function failovers(seqs: Sequencer[], reps: number, tag: string): Promise<number[]> {
  const times: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const [leader, [standby]] = await findLeader(seqs);
    const load = new FailoverLoad(
      () => seqs.map((s) => s.proc.url),
      FAILOVER_CONNECTIONS,
      `failover-${tag}-${rep}-${Date.now()}`,
    );
    try {
      await load.firstOk(leader.proc.url, performance.now() + 500, 20_000); // load flows to the leader
      const killedAt = performance.now();
      await leader.proc.kill();
      const okAt = await load.firstOk(standby!.proc.url, killedAt, 30_000).catch((e: Error) => {
        throw new Error(
          `${e.message} after killing ${leader.id}; ${standby!.id} said:\n${standby!.proc.output()}`,
        );
      });
      times.push(okAt - killedAt);
    } finally {
      await load.stop();
    }
    leader.proc = track(await startServer(leader.args));
    await waitFor(`${leader.id} restarted as a standby`, 30_000, async () =>
      (await roleOf(leader.proc.url)) === 'standby' ? true : undefined,
    );
  }
  return times;
}

// ---------------------------------------------------------------- the bench

/** A new log: a signer key file named `origin`, outside every data dir. */
async function newLogKey(dir: string, origin: string): Promise<{ keyFile: string; verifierKey: string }> {
  const { signerKey, verifierKey } = generateSignerKey(origin);
  const keyFile = join(dir, `${origin.replace(/[^a-z0-9]/gi, '_')}.key`);
  await writeFile(keyFile, signerKey + '\n', { mode: 0o600 });
  return { keyFile, verifierKey };
}

function sequencerArgs(o: {
  dir: string;
  id: string;
  keyFile: string;
  nats: string;
  replicas: 1 | 3;
  leaseMs?: number;
}): string[] {
  return [
    '--data',
    join(o.dir, `data-${o.id}`),
    '--key',
    o.keyFile,
    '--nats',
    o.nats,
    '--nats-replicas',
    String(o.replicas),
    '--node-id',
    o.id,
    '--rules',
    'none',
    '--batch-ms',
    String(BATCH_MS),
    ...(o.leaseMs === undefined ? [] : ['--lease-ms', String(o.leaseMs)]),
  ];
}

export async function benchReplication(report: Report, opts: { seconds?: number } = {}): Promise<void> {
  const seconds = opts.seconds ?? 60;
  const connections = Number(process.env.URNA_BENCH_CONNECTIONS ?? 256);
  const reps = seconds >= 30 ? 5 : 3;
  const { dir, cleanup } = await tempDir('urna-bench-repl-');
  let natsR1: NatsServer | null = null;
  let cluster: NatsCluster | null = null;
  let nc: NatsConnection | null = null;
  try {
    // Limits.
    const ceiling = await writeLimits(report, seconds, connections);

    // (1) The reference: one node, no NATS.
    let single: LoadResult;
    {
      const server = track(
        await startServer(['--data', join(dir, 'single'), '--batch-ms', String(BATCH_MS), '--rules', 'none']),
      );
      try {
        single = await loadPostsWarm(server.url, seconds, connections);
      } finally {
        await server.kill();
      }
    }
    report(
      'single node POST /add (reference)',
      single.rps,
      'entries/s',
      `${seconds} s, ${connections} connections, ${single.errors} errors; ` +
        `${(single.rps / ceiling.rps).toFixed(2)} of trivial POST`,
    );
    report('  p50 / p99 submit→receipt', single.p50, 'ms', `p99 ${single.p99} ms`);

    // Optional: one sequencer, journal R1 on one NATS node.
    natsR1 = await startNatsServer({ name: 'bench-r1' });
    {
      const ncR1 = await connect({ servers: natsR1.url, timeout: 5000 });
      try {
        const r1 = await jetstreamAppendRate(ncR1, 1, JS_LIMIT_BYTES, 3000);
        report(
          'JetStream R1 acked appends (32 KiB)',
          r1,
          'appends/s',
          'ceiling: one append in flight, one NATS node',
        );
      } finally {
        await ncR1.close();
      }
      const { keyFile } = await newLogKey(dir, 'bench-r1.example/log');
      const seq = await startSequencer(
        'r1',
        sequencerArgs({ dir, id: 'r1', keyFile, nats: natsR1.url, replicas: 1 }),
      );
      try {
        const r1 = await loadPostsWarm(seq.proc.url, seconds, connections);
        report(
          'journal R1 (one NATS node, one sequencer)',
          r1.rps,
          'entries/s',
          `${r1.errors} errors; p99 ${r1.p99} ms; ${(r1.rps / single.rps).toFixed(2)} of single node`,
        );
      } finally {
        await seq.proc.kill();
      }
    }
    await natsR1.dispose();
    natsR1 = null;

    // (2) Replicated: 3-node NATS, journal R3, two sequencers, two mirrors.
    cluster = await startNatsCluster(3);
    nc = await cluster.connect();
    const r3limit = await jetstreamAppendRate(nc, 3, JS_LIMIT_BYTES, 3000);
    report(
      'JetStream R3 acked appends (32 KiB)',
      r3limit,
      'appends/s',
      'ceiling: one append in flight, 3-node cluster',
    );
    const natsUrls = cluster.urls.join(',');
    const origin = 'bench-r3.example/log';
    const { keyFile, verifierKey } = await newLogKey(dir, origin);
    const seqs: Sequencer[] = [];
    for (const id of ['seqA', 'seqB'])
      seqs.push(await startSequencer(id, sequencerArgs({ dir, id, keyFile, nats: natsUrls, replicas: 3 })));
    const mirrors: ServerProcess[] = [];
    for (const name of ['mirror1', 'mirror2'])
      mirrors.push(
        track(
          await startMirror([
            '--nats',
            natsUrls,
            '--nats-replicas',
            '3',
            '--log-key',
            verifierKey,
            '--data',
            join(dir, `data-${name}`),
            '--rules',
            'none',
          ]),
        ),
      );
    const [leader] = await findLeader(seqs);
    const replicated = await loadPostsWarm(leader.proc.url, seconds, connections);
    report(
      'replicated R3 POST /add to the leader',
      replicated.rps,
      'entries/s',
      `${seconds} s, ${connections} connections, ${replicated.errors} errors; ` +
        '2 sequencers + 2 mirrors on 3-node NATS',
    );
    report('  ratio to single node', replicated.rps / single.rps, 'x', 'goal >= 0.5');
    report('  p50 / p99 submit→receipt', replicated.p50, 'ms', `p99 ${replicated.p99} ms`);

    // Mirrors catch up after full load.
    const leaderSize = await servedSize(leader.proc.url);
    const catchStart = performance.now();
    await waitFor(
      'mirrors catch up after full load',
      120_000,
      async () => {
        const sizes = await Promise.all(mirrors.map((m) => servedSize(m.url)));
        return sizes.every((s) => s >= leaderSize) ? true : undefined;
      },
      POLL_MS,
    );
    report(
      'mirrors caught up after full load',
      performance.now() - catchStart,
      'ms',
      `to the leader's size ${leaderSize.toLocaleString('en-US')} at the end of the load`,
    );

    // (3) Mirror lag at half load.
    const delayBefore = await Promise.all(
      mirrors.map((m) => histogram(m.url, 'urna_mirror_apply_delay_seconds')),
    );
    const rate = Math.max(1, Math.round(replicated.rps / 2));
    const lag = await measureLag(
      nc,
      origin,
      leader.proc.url,
      mirrors.map((m) => m.url),
      {
        seconds: Math.max(1, Math.round(seconds / 2)),
        connections,
        rate,
      },
    );
    const delayAfter = await Promise.all(
      mirrors.map((m) => histogram(m.url, 'urna_mirror_apply_delay_seconds')),
    );
    report(
      'half load on the leader',
      lag.load.rps,
      'entries/s',
      `target ${rate.toLocaleString('en-US')}/s, ${lag.load.errors} errors, ` +
        `${lag.checkpoints} checkpoints published`,
    );
    mirrors.forEach((_, i) => {
      const s = stats(lag.lags[i]!);
      report(
        `  mirror${i + 1} lag p50 (checkpoint → served)`,
        s.p50,
        'ms',
        `p99 ${ms(s.p99)}, max ${ms(s.max)} over ${s.n} checkpoints` +
          (lag.unserved[i] ? `, ${lag.unserved[i]} never served` : '') +
          `; goal < 1,000 ms; polled every ${POLL_MS} ms`,
      );
      const count = delayAfter[i]!.count - delayBefore[i]!.count;
      const sum = delayAfter[i]!.sum - delayBefore[i]!.sum;
      report(
        `  mirror${i + 1} mean apply delay (metrics)`,
        count > 0 ? (sum / count) * 1000 : NaN,
        'ms',
        `urna_mirror_apply_delay_seconds, journal stored → applied, ${count} batches`,
      );
    });
    await Promise.all(mirrors.map((m) => m.kill()));

    // (4) Failover, default lease TTL, on this log (mirrors stopped).
    const tDefault = stats(await failovers(seqs, reps, 'ttl3000'));
    report(
      'failover, lease 3000 ms (default), median',
      tDefault.p50,
      'ms',
      `min ${ms(tDefault.min)}, max ${ms(tDefault.max)} over ${tDefault.n} kill -9s, ` +
        `${FAILOVER_CONNECTIONS} clients; kill → first 201 from the standby; ` +
        'expect TTL·(2/3..1) + 200 ms poll; goal < 5,000 ms',
    );
    await Promise.all(seqs.map((s) => s.proc.kill()));

    // Failover with --lease-ms 1500: its own log (a lease bucket's TTL is fixed).
    const fast = await newLogKey(dir, 'bench-r3-lease1500.example/log');
    const fastSeqs: Sequencer[] = [];
    for (const id of ['fastA', 'fastB'])
      fastSeqs.push(
        await startSequencer(
          id,
          sequencerArgs({ dir, id, keyFile: fast.keyFile, nats: natsUrls, replicas: 3, leaseMs: 1500 }),
        ),
      );
    const tFast = stats(await failovers(fastSeqs, reps, 'ttl1500'));
    report(
      'failover, lease 1500 ms, median',
      tFast.p50,
      'ms',
      `min ${ms(tFast.min)}, max ${ms(tFast.max)} over ${tFast.n} kill -9s, ` +
        `${FAILOVER_CONNECTIONS} clients; goal < 5,000 ms`,
    );
  } finally {
    await killAll();
    await nc?.close().catch(() => {});
    await cluster?.stop();
    await natsR1?.dispose();
    await cleanup();
  }
}
