/**
 * Write-path and read-path benchmarks of `urna serve` over loopback HTTP,
 * each beside its ceilings measured in the same run: the same fastify setup
 * answering a trivial POST, and the raw LevelDB synced-batch rate.
 */
import autocannon from 'autocannon';
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tilePath } from '../../ledger/tile.js';
import { tempDir } from '../helpers/log.js';
import { startListening, startServer, type ServerProcess } from '../helpers/process.js';
import { levelSyncedBatchRate } from './limits.js';
import type { Report } from './report.js';

const TRIVIAL = fileURLToPath(new URL('./trivial-server.ts', import.meta.url));

export interface LoadResult {
  rps: number;
  ok: number;
  errors: number;
  p50: number;
  p99: number;
}

/**
 * Loads POST /add (or `path`) with unique entries; `rate` caps requests/s
 * overall (open-ish loop).
 */
export async function loadPosts(
  url: string,
  seconds: number,
  connections: number,
  rate?: number,
  path = '/add',
): Promise<LoadResult> {
  let n = 0;
  const prefix = `bench-${Date.now()}-${Math.random()}`;
  const result = await autocannon({
    url: `${url}${path}`,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        setupRequest: (req) => ({ ...req, body: `${prefix}-${n++}-${'x'.repeat(100)}` }),
      },
    ],
  });
  const ok = result['2xx'];
  return {
    rps: ok / seconds,
    ok,
    errors: result.non2xx + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

/**
 * An open loop: POST /add (or `path`) with unique entries at `rate` per
 * second, spread evenly (a request every 1/rate s, sent whether or not the
 * earlier ones were answered), for `seconds`; latency from send to answer.
 * autocannon's rate limit sends each second's requests in a burst at its
 * start, which measures queueing behind the burst, not the latency at that
 * rate.
 */
export async function openLoopPosts(
  url: string,
  seconds: number,
  rate: number,
  path = '/add',
): Promise<LoadResult> {
  const { hostname, port } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const prefix = `open-${Date.now()}-${Math.random()}`;
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  const post = (body: string) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(
        {
          agent,
          hostname,
          port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200 || res.statusCode === 201) latencies.push(performance.now() - t0);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const run = async (s: number) => {
    const start = performance.now();
    const end = start + s * 1000;
    for (let sent = 0; performance.now() < end;) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) {
        const p = post(`${prefix}-${n++}-${'x'.repeat(100)}`);
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inFlight);
  };
  await run(2); // warm-up: the client's connections opened, the server's code hot
  latencies.length = 0;
  errors = 0;
  await run(seconds);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
  return { rps: latencies.length / seconds, ok: latencies.length, errors, p50: at(0.5), p99: at(0.99) };
}

/** `loadPosts` after a 2 s warm-up at the same concurrency (the figure a bench reports). */
export async function loadPostsWarm(
  url: string,
  seconds: number,
  connections: number,
  path = '/add',
): Promise<LoadResult> {
  await loadPosts(url, 2, connections, undefined, path);
  return loadPosts(url, seconds, connections, undefined, path);
}

/**
 * The write path's limits on this machine, measured now and reported: the
 * LevelDB synced batch rate, and the trivial-POST ceiling of the same fastify
 * setup (test/bench/trivial-server.ts). Returns the ceiling.
 */
export async function writeLimits(report: Report, seconds: number, connections: number): Promise<LoadResult> {
  const synced = await levelSyncedBatchRate(3000);
  report('leveldb synced batches (1 put each)', synced, 'batches/s', 'ceiling: one fsync per batch');
  const trivial = await startListening(['--import', 'tsx', TRIVIAL]);
  let ceiling: LoadResult;
  try {
    ceiling = await loadPostsWarm(trivial.url, Math.min(seconds, 15), connections);
  } finally {
    await trivial.kill();
  }
  report('trivial POST (same fastify setup)', ceiling.rps, 'req/s', `ceiling; p99 ${ceiling.p99} ms`);
  return ceiling;
}

/**
 * GET requests/s over `paths` (rotating). Uses wrk (Debian's `wrk`, a C
 * client) when installed, since a Node client saturates its core before the
 * server does on 8 KiB responses; autocannon otherwise.
 */
async function loadGets(
  url: string,
  paths: string[],
  seconds: number,
): Promise<{ rps: number; client: string }> {
  const wrk = spawnSync('wrk', ['--version']);
  if (wrk.error === undefined) {
    const { dir, cleanup } = await tempDir('urna-wrk-');
    try {
      const script = join(dir, 'paths.lua');
      const list = paths.map((p) => JSON.stringify(p)).join(',');
      await writeFile(
        script,
        `local paths = {${list}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n`,
      );
      const out = spawnSync('wrk', ['-t1', '-c64', `-d${seconds}s`, '-s', script, url], {
        encoding: 'utf8',
      }).stdout;
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      if (/Non-2xx/.test(out)) throw new Error(`wrk saw non-2xx answers:\n${out}`);
      return { rps, client: 'wrk' };
    } finally {
      await cleanup();
    }
  }
  let i = 0;
  const result = await autocannon({
    url,
    connections: 64,
    duration: seconds,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  return { rps: result['2xx'] / seconds, client: 'autocannon' };
}

/** Peak resident set of a process (VmHWM), in MiB. */
async function peakRssMiB(server: ServerProcess): Promise<number> {
  const status = await readFile(`/proc/${server.proc.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

export async function benchHttp(report: Report, opts: { seconds?: number } = {}): Promise<void> {
  const seconds = opts.seconds ?? 60;
  const connections = Number(process.env.URNA_BENCH_CONNECTIONS ?? 256);

  const ceiling = await writeLimits(report, seconds, connections);

  const { dir, cleanup } = await tempDir('urna-bench-');
  // The batch floor: the server's default (adaptive ticks), or URNA_BENCH_BATCH_MS.
  const floor = process.env.URNA_BENCH_BATCH_MS ? ['--batch-ms', process.env.URNA_BENCH_BATCH_MS] : [];
  const server = await startServer(['--data', dir, '--rules', 'none', ...floor]);
  try {
    const full = await loadPostsWarm(server.url, seconds, connections);
    report(
      'urna POST /add sustained, fsync on, full receipt',
      full.rps,
      'entries/s',
      `${seconds} s, ${connections} connections, ${full.errors} errors`,
    );
    report('  ratio to trivial POST', full.rps / ceiling.rps, 'x', 'goal >= 0.50');
    report('  p50 / p99 submit→receipt at full load', full.p50, 'ms', `p99 ${full.p99} ms`);

    const later = await loadPostsWarm(server.url, seconds, connections, '/add?receipt=later');
    report(
      'urna POST /add?receipt=later sustained (index and leaf hash; receipt by GET later)',
      later.rps,
      'entries/s',
      `${later.errors} errors; p50 ${later.p50} ms, p99 ${later.p99} ms`,
    );
    report('  ratio to trivial POST', later.rps / ceiling.rps, 'x', 'goal >= 0.60');

    const half = await openLoopPosts(server.url, Math.min(seconds, 30), Math.round(full.rps / 2));
    report(
      'urna at half load, full receipt (open loop, evenly spread)',
      half.rps,
      'entries/s',
      `${half.errors} errors`,
    );
    report(
      '  p50 / p99 submit→receipt at half load',
      half.p50,
      'ms',
      `p99 ${half.p99} ms; goal p99 < 100 ms`,
    );

    const size = Math.floor((full.ok + later.ok) / 256);
    const tilePaths = Array.from(
      { length: Math.max(1, Math.min(size, 1000)) },
      (_, index) => '/' + tilePath({ level: 0, index, width: 256 }),
    );
    const trivialGet = await loadGets(server.url, ['/healthz'], 10);
    report(
      'trivial GET /healthz (same server)',
      trivialGet.rps,
      'req/s',
      `ceiling; ${trivialGet.client}, 64 connections`,
    );
    const tiles = await loadGets(server.url, tilePaths, 10);
    report('tiles served (GET /tile/0/N, 8 KiB each)', tiles.rps, 'req/s', `${tiles.client}; goal >= 20,000`);
    report('  ratio to trivial GET', tiles.rps / trivialGet.rps, 'x', 'goal >= 0.80');
    const trivial = await startListening(['--import', 'tsx', TRIVIAL]);
    try {
      const bytes = await loadGets(trivial.url, ['/bytes/8192'], 10);
      report(
        'trivial GET of 8 KiB (same fastify setup, constant bytes)',
        bytes.rps,
        'req/s',
        `ceiling for a tile's size; ${bytes.client}`,
      );
      report('  tiles: ratio to trivial 8 KiB GET', tiles.rps / bytes.rps, 'x');
    } finally {
      await trivial.kill();
    }
    report('urna serve peak RSS', await peakRssMiB(server), 'MiB');
  } finally {
    await server.kill();
    await cleanup();
  }
}
