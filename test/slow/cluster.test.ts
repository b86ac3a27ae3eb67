/**
 * `npm run cluster` end to end, as a developer runs it: a child process
 * `npm run cluster -- --data <tmp>`; once it prints its table and
 * `urna cluster: ready` (at most 90 s), every printed URL answers (/varz for
 * the NATS monitors, /healthz for the urna nodes), exactly one sequencer
 * reports role leader, the others standby, the mirrors mirror; then SIGTERM
 * to npm: exit code 0 and no process of the cluster left.
 *
 * The first case (no sequencers, no mirrors) covers the NATS cluster, the
 * keys and the shutdown on their own; the second the whole topology.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../ledger/note.js';
import { tempDir } from '../helpers/log.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 90_000;
const EXIT_TIMEOUT_MS = 45_000;

interface Run {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

let running: Run[] = [];
let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const r of running) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      // Kills the cluster script; its watchdogs then kill its children.
      try {
        process.kill(-r.proc.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await r.exited;
  }
  running = [];
  await new Promise((r) => setTimeout(r, 2000));
  for (const c of cleanups) await c();
  cleanups = [];
});

function startCluster(args: string[]): Run {
  const proc = spawn('npm', ['run', '--silent', 'cluster', '--', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, for the clean-up above
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const run = { proc, output: () => out, exited };
  running.push(run);
  return run;
}

/** Waits for `urna cluster: ready`; fails at once on `NOT ready` (the cluster's own bounded wait is over). */
async function waitReady(run: Run, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (/urna cluster: ready/.test(run.output())) return;
    if (/urna cluster: NOT ready/.test(run.output())) throw new Error(`cluster not ready:\n${run.output()}`);
    if (run.proc.exitCode !== null || run.proc.signalCode !== null)
      throw new Error(
        `npm run cluster exited (${run.proc.exitCode ?? run.proc.signalCode}):\n${run.output()}`,
      );
    if (Date.now() > deadline) throw new Error(`not ready in ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

interface Table {
  nats: { name: string; url: string; monitorUrl: string; pid: number }[];
  urna: { name: string; url: string; role: string; pid: number }[];
  logKey: string;
}

/** The table printed before `urna cluster: ready`. */
function parseTable(out: string): Table {
  const nats = [
    ...out.matchAll(/^ {2}(n\d+) +(nats:\/\/127\.0\.0\.1:\d+) +(http:\/\/127\.0\.0\.1:\d+) +(\d+)$/gm),
  ].map((m) => ({ name: m[1]!, url: m[2]!, monitorUrl: m[3]!, pid: Number(m[4]) }));
  const urna = [
    ...out.matchAll(/^ {2}((?:seq|mirror)\d+) +(http:\/\/127\.0\.0\.1:\d+) +(.+?) +(\d+)$/gm),
  ].map((m) => ({ name: m[1]!, url: m[2]!, role: m[3]!, pid: Number(m[4]) }));
  const logKey = /log verifier key +(\S+)/.exec(out)?.[1] ?? '';
  return { nats, urna, logKey };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** SIGTERM to npm: exit 0, and (within 10 s: the watchdogs poll every second) nothing left. */
async function stopAndCheck(run: Run, dir: string, pids: number[]): Promise<void> {
  run.proc.kill('SIGTERM');
  const code = await Promise.race([
    run.exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_TIMEOUT_MS)),
  ]);
  expect(code, run.output()).toBe(0);
  expect(run.output()).toContain('urna cluster: stopped');
  const deadline = Date.now() + 10_000;
  let left = processesMentioning(dir);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = processesMentioning(dir);
  }
  expect(left).toEqual([]);
  for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} still alive`).toThrow();
}

describe('npm run cluster', () => {
  it('NATS only: three JetStream nodes and the keys; SIGTERM stops it with exit 0 and nothing left', async () => {
    const { dir, cleanup } = await tempDir('urna-cluster-nats-');
    cleanups.push(cleanup);
    const data = join(dir, 'data');
    const run = startCluster(['--data', data, '--sequencers', '0', '--mirrors', '0']);
    await waitReady(run);
    const table = parseTable(run.output());
    expect(table.nats.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    const routes = new Set<string>();
    for (const n of table.nats) {
      const { status, body } = await getJson(`${n.monitorUrl}/varz`);
      expect(status).toBe(200);
      expect(body.server_name).toBe(n.name);
      expect(`nats://127.0.0.1:${body.port}`).toBe(n.url);
      routes.add(String((body.cluster as { name?: string }).name));
      const jsz = await getJson(`${n.monitorUrl}/jsz`);
      expect((jsz.body.meta_cluster as { cluster_size?: number }).cluster_size).toBe(3);
    }
    expect([...routes]).toEqual(['urna-dev']);
    expect(parseVerifierKey(table.logKey).name).toBe('urna.localhost/log');
    expect(readFileSync(join(data, 'keys', 'log.vkey'), 'utf8').trim()).toBe(table.logKey);
    const state = JSON.parse(readFileSync(join(data, 'cluster.json'), 'utf8')) as { logKey: string };
    expect(state.logKey).toBe(table.logKey);
    await stopAndCheck(
      run,
      data,
      table.nats.map((n) => n.pid),
    );

    // Again on the same root: the same keys, the JetStream stores kept.
    const again = startCluster(['--data', data, '--sequencers', '0', '--mirrors', '0']);
    await waitReady(again);
    expect(again.output()).toContain(`using log key ${join(data, 'keys', 'log.key')}`);
    expect(parseTable(again.output()).logKey).toBe(table.logKey);
    await stopAndCheck(
      again,
      data,
      parseTable(again.output()).nats.map((n) => n.pid),
    );
  });

  it('two sequencers (one leader) and two mirrors answer; SIGTERM stops everything with exit 0', async () => {
    const { dir, cleanup } = await tempDir('urna-cluster-');
    cleanups.push(cleanup);
    const data = join(dir, 'data');
    const run = startCluster(['--data', data, '--timeout', '80']);
    await waitReady(run);
    const table = parseTable(run.output());
    expect(table.nats).toHaveLength(3);
    expect(table.urna.map((n) => n.name)).toEqual(['seq1', 'seq2', 'mirror1', 'mirror2']);
    for (const n of table.nats) expect((await getJson(`${n.monitorUrl}/varz`)).status).toBe(200);
    const roles: Record<string, string> = {};
    for (const n of table.urna) {
      const { status, body } = await getJson(`${n.url}/healthz`);
      expect(status, `${n.name} ${JSON.stringify(body)}`).toBe(200);
      roles[n.name] = String(body.role);
      expect((await fetch(`${n.url}/checkpoint`)).status).toBe(200);
    }
    const sequencerRoles = [roles.seq1, roles.seq2].sort();
    expect(sequencerRoles).toEqual(['leader', 'standby']);
    expect([roles.mirror1, roles.mirror2]).toEqual(['mirror', 'mirror']);
    // The example command names the leader.
    const leader = table.urna.find((n) => roles[n.name] === 'leader')!;
    expect(run.output()).toContain(`npx urna demo --log ${leader.url} `);
    await stopAndCheck(
      run,
      data,
      [...table.nats, ...table.urna].map((n) => n.pid),
    );
  });
});
