/**
 * `urna monitor` as real processes against a log that shows one tree to some
 * and another to others (test/helpers/forked-log.ts, each tree served over
 * loopback HTTP as static tiles): two monitors that each saw only one side
 * detect the split view through gossip alone — HTTP peers, and NATS — and
 * the evidence they write verifies with only the log key through `urna
 * verify alarm`. Rewritten history is detected the same way. The time from
 * start to the first alarm is printed beside the gossip interval.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes.js';
import { forkedLog, serveTree as serveShownTree, type ShownTree } from '../helpers/forked-log.js';
import { tempDir } from '../helpers/log.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { startListening, URNA_BIN, type ServerProcess } from '../helpers/process.js';

let dir: string;
let cleanup: () => Promise<void>;
let nats: NatsServer;
const servers: Server[] = [];
const procs: ServerProcess[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-monitor-'));
  nats = await startNatsServer({ name: 'monitor' });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const s of servers) s.close();
  await nats?.dispose();
  await cleanup?.();
});

async function serveTree(tree: ShownTree): Promise<string> {
  const { url, server } = await serveShownTree(tree);
  servers.push(server);
  return url;
}

async function monitor(name: string, logKey: string, args: string[]): Promise<ServerProcess> {
  const p = await startListening([
    URNA_BIN,
    'monitor',
    ...['--log-key', logKey, '--data', join(dir, name), '--interval', '1', '--log-level', 'warn'],
    ...args,
  ]);
  procs.push(p);
  return p;
}

async function untilAlarm(m: ServerProcess, ms = 30_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const s = (await (await fetch(`${m.url}/status`)).json()) as { alarms: unknown[] };
    if (s.alarms.length > 0) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`no alarm in ${ms} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function verifyAlarmFiles(name: string, logKey: string): void {
  const files = readdirSync(join(dir, name)).filter((f) => f.startsWith('alarm-'));
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const r = spawnSync(
      process.execPath,
      [URNA_BIN, 'verify', 'alarm', join(dir, name, f), '--log-key', logKey],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fork proven/);
    expect(JSON.parse(readFileSync(join(dir, name, f), 'utf8')).notes).toHaveLength(2);
  }
}

describe('urna monitor', () => {
  it.each([
    ['a split view (the fork larger)', 'split', 400, 700],
    ['rewritten history (the same size)', 'rewrite', 500, 500],
  ] as const)(
    '%s: two monitors, each seeing one side, both raise it through HTTP gossip',
    async (name, mode, hs, fs) => {
      const log = forkedLog({ at: 100, mode });
      const [honest, fork] = [await serveTree(log.honest(hs)), await serveTree(log.forked(fs))];
      const [pa, pb] = [await freePort(), await freePort()];
      const tag = mode;
      const a = await monitor(`${tag}-a`, log.keys.verifierKey, [
        ...['--source', honest, '--peer', `http://127.0.0.1:${pb}`, '--listen', `127.0.0.1:${pa}`],
      ]);
      const b = await monitor(`${tag}-b`, log.keys.verifierKey, [
        ...['--source', fork, '--peer', `http://127.0.0.1:${pa}`, '--listen', `127.0.0.1:${pb}`],
      ]);
      const [ta, tb] = await Promise.all([untilAlarm(a), untilAlarm(b)]);
      console.log(`monitor, ${name}: alarms after ${ta} ms and ${tb} ms (gossip interval 1000 ms)`);
      expect((await fetch(`${a.url}/healthz`)).status).toBe(503);
      verifyAlarmFiles(`${tag}-a`, log.keys.verifierKey);
      verifyAlarmFiles(`${tag}-b`, log.keys.verifierKey);
    },
  );

  it('two monitors on NATS only (no peers), each seeing one side, both raise the split view', async () => {
    const log = forkedLog({ at: 100, mode: 'split', origin: 'nats-forked.example/log' });
    const [honest, fork] = [await serveTree(log.honest(300)), await serveTree(log.forked(600))];
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await monitor('nats-a', log.keys.verifierKey, [
      ...['--source', honest, '--nats', nats.url, '--listen', `127.0.0.1:${pa}`],
    ]);
    const b = await monitor('nats-b', log.keys.verifierKey, [
      ...['--source', fork, '--nats', nats.url, '--listen', `127.0.0.1:${pb}`],
    ]);
    const [ta, tb] = await Promise.all([untilAlarm(a), untilAlarm(b)]);
    console.log(`monitor, NATS gossip: alarms after ${ta} ms and ${tb} ms (interval 1000 ms)`);
    verifyAlarmFiles('nats-a', log.keys.verifierKey);
    verifyAlarmFiles('nats-b', log.keys.verifierKey);
  });

  it('--once over an honest log exits 0; over both sides exits 1', async () => {
    const log = forkedLog({ at: 10, mode: 'split', origin: 'once.example/log' });
    const [h1, h2, f] = [
      await serveTree(log.honest(100)),
      await serveTree(log.honest(300)),
      await serveTree(log.forked(200)),
    ];
    const run = (sources: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        // Asynchronously: the sources are served by this process.
        const child = spawn(process.execPath, [
          ...[URNA_BIN, 'monitor', '--once', '--log-key', log.keys.verifierKey, '--data', join(dir, 'once')],
          ...sources.flatMap((s) => ['--source', s]),
        ]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('close', (status) => resolve({ status, stdout, stderr }));
      });
    const ok = await run([h1, h2]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ largest: { size: 300 }, alarms: [] });
    const bad = await run([h2, f]);
    const none = await run(['http://127.0.0.1:1/']);
    expect(none.status).toBe(2);
    expect(bad.status, bad.stderr).toBe(1);
  });
});
