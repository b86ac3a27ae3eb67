/**
 * `urna serve --nats` against a real nats-server (test/helpers/nats.ts): the
 * sequencer appends each batch to the JetStream journal before its LevelDB
 * commit and catches up from it on start.
 *  - restarted from an empty data dir (raw and election mode), it rebuilds
 *    the log from the journal and signs the byte-identical checkpoint; every
 *    receipted entry is at its index and its receipt verifies; election
 *    projections are rebuilt (a second ballot is still refused); a mirror
 *    given only the log's key serves the same /authorities and elections,
 *    and follows when the log adds an authority later (a log record);
 *  - two sequencers on one journal that both believe they lead (forced by
 *    giving them one lease id): the journal's expected-last-sequence makes
 *    the loser step down (503), and the journal replayed into a fresh
 *    server is one log consistent with every checkpoint either returned;
 *  - kill -9 mid-load (externally and at fault points around the journal
 *    append), a few rounds: no receipted entry lost, no fork.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import {
  decodeSignerKey,
  ED25519_TYPE,
  formatVerifierKey,
  generateSignerKey,
  openNote,
  parseVerifierKey,
} from '../../ledger/note.js';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { signRecord } from '../../ledger/record.js';
import { subjects } from '../../services/journal/subjects.js';
import type { FaultPoint } from '../../services/sequencer/sequencer.js';
import { buildElection } from '../helpers/election.js';
import { tempDir } from '../helpers/log.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { checkLog, checkpointOf, keepReceipt, load, post, type Receipted } from '../helpers/audit.js';
import { startMirror, startServer, type ServerProcess } from '../helpers/process.js';

let nats: NatsServer;
let nc: NatsConnection;
let dir: string;
let cleanup: () => Promise<void>;
let logs = 0;

beforeAll(async () => {
  nats = await startNatsServer({ name: 'serve' });
  nc = await connect({ servers: nats.url });
  ({ dir, cleanup } = await tempDir('urna-journal-serve-'));
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
  await cleanup?.();
});

/** A fresh log (its own origin, hence its own journal stream): a key file outside any data dir. */
async function newLog(): Promise<{ origin: string; keyFile: string }> {
  const origin = `journal-serve-${++logs}.example/log`;
  const keyFile = join(dir, `log-${logs}.key`);
  await writeFile(keyFile, generateSignerKey(origin).signerKey + '\n', { mode: 0o600 });
  return { origin, keyFile };
}

function serveArgs(keyFile: string, data: string, ...more: string[]): string[] {
  return ['--data', data, '--key', keyFile, '--nats', nats.url, '--batch-ms', '10', ...more];
}

describe('urna serve --nats', () => {
  it('rebuilds the log from the journal after kill -9 and an emptied data dir: same checkpoint bytes', async () => {
    const { origin, keyFile } = await newLog();
    const data = join(dir, `data-${logs}`);
    const published: string[] = [];
    const sub = nc.subscribe(subjects(origin).checkpoint);
    void (async () => {
      for await (const m of sub) published.push(new TextDecoder().decode(m.data));
    })();
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    let server = await startServer(serveArgs(keyFile, data, '--rules', 'none'));
    let before: string;
    try {
      await load(server, 'empty-disk', 1500, receipted, seen);
      expect(receipted.length).toBeGreaterThan(50);
      before = await checkpointOf(server);
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
        journal: { sequence: number; steppedDown: boolean };
      };
      expect(health.journal.sequence).toBeGreaterThan(0);
      expect(health.journal.steppedDown).toBe(false);
    } finally {
      await server.kill();
    }
    // Every signed checkpoint was announced on urna.<log>.checkpoint.
    await nc.flush();
    expect(published).toContain(before);
    for (const s of seen) expect(published).toContain(s);
    sub.unsubscribe();

    await rm(data, { recursive: true, force: true });
    // Without the log key (generated afresh in the empty data dir) it refuses to rebuild under another key.
    const keyless = ['--data', data, '--origin', origin, '--nats', nats.url, '--rules', 'none'];
    await expect(startServer(keyless)).rejects.toThrow(/no log key was found/);
    await rm(data, { recursive: true, force: true });
    server = await startServer(serveArgs(keyFile, data, '--rules', 'none'));
    try {
      expect(await checkpointOf(server)).toBe(before);
      const { note } = await checkLog(server, receipted, seen);
      expect(note).toBe(before);
      for (const r of receipted) {
        const res = await fetch(`${server.url}/receipt/${r.leafHash}`);
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(parseReceipt(text).index).toBe(r.index);
        verifyReceipt(text, { leafHash: fromHex(r.leafHash) }, parseVerifierKey(server.verifierKey));
      }
      // It sequences on after the catch-up.
      const { status, body } = await post(server, utf8('after the rebuild'));
      expect(status).toBe(201);
      expect(body.index).toBe(
        parseCheckpoint(openNote(before, [parseVerifierKey(server.verifierKey)]).text).size,
      );
    } finally {
      await server.stop();
    }
  });

  it('rebuilds an election log with its projections from the journal', async () => {
    const { origin, keyFile } = await newLog();
    const data = join(dir, `data-${logs}`);
    const f = buildElection({ id: 'journal-2026', voters: 8, revoting: 'none' });
    const authority = formatVerifierKey('authority.example', ED25519_TYPE, fromBase64(f.authority.key));
    const args = serveArgs(keyFile, data, '--authority', authority);
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    const submit = async (server: ServerProcess, entry: Uint8Array, expected = 201) => {
      const { status, body } = await post(server, entry);
      expect(status, JSON.stringify(body)).toBe(expected);
      if (status === 201) {
        receipted.push({ leafHash: body.leafHash, index: body.index });
        seen.add(parseReceipt(body.receipt).checkpoint);
      }
    };
    let server = await startServer(args);
    let before: string;
    try {
      await submit(server, f.election());
      await submit(server, f.credentials());
      await submit(server, f.phase('open'));
      await Promise.all(f.voters.slice(0, 6).map((v) => submit(server, f.ballot(v))));
      before = await checkpointOf(server);
    } finally {
      await server.kill();
    }
    await rm(data, { recursive: true, force: true });
    server = await startServer(args);
    try {
      expect(await checkpointOf(server)).toBe(before);
      await checkLog(server, receipted, seen);
      // The projections were rebuilt by the rules: voter 0 has voted (no revoting), voter 6 has not.
      const again = await post(server, f.ballot(f.voters[0]!));
      expect(again.status).toBe(409);
      expect(JSON.stringify(again.body)).toContain('already_voted');
      await submit(server, f.ballot(f.voters[6]!));

      // A mirror needs only the log's key: what the log trusts is in the log (entry 0).
      const mirror = await startMirror([
        ...['--nats', nats.url, '--log-key', server.verifierKey, '--data', join(dir, `mirror-${logs}`)],
      ]);
      const sameOnBoth = async (paths: string[]) => {
        const latest = await checkpointOf(server);
        for (let i = 0; i < 200 && (await checkpointOf(mirror)) !== latest; i++)
          await new Promise((r) => setTimeout(r, 50));
        expect(await checkpointOf(mirror)).toBe(latest);
        for (const path of paths) {
          const [a, b] = await Promise.all([server, mirror].map((n) => fetch(`${n.url}${path}`)));
          expect(b!.status, path).toBe(200);
          expect(await b!.json(), path).toEqual(await a!.json());
        }
      };
      try {
        await sameOnBoth(['/authorities', `/elections/${f.id}`]);
        // The log adds an authority later (a log record by the log key, once no election is open):
        // the mirror follows, with nothing more given to it.
        await submit(server, f.phase('close'));
        const g = buildElection({ id: 'journal-second', voters: 2 });
        const logSeed = decodeSignerKey((await readFile(keyFile, 'utf8')).trim()).seed;
        const body = { origin, sequence: 1, authorities: [f.authority.key, g.authority.key] };
        await submit(server, signRecord({ v: 1, type: 'log', body }, logSeed));
        await submit(server, g.election());
        await sameOnBoth(['/authorities', `/elections/${g.id}`]);
        const trusted = (await (await fetch(`${mirror.url}/authorities`)).json()) as {
          authorities: string[];
        };
        expect(trusted.authorities).toEqual(body.authorities);
      } finally {
        await mirror.stop();
      }
    } finally {
      await server.stop();
    }
  });

  it('fences two sequencers that both believe they lead (one lease id): steps down, 503, no fork', async () => {
    const { keyFile } = await newLog();
    // The same --node-id makes both hold the lease at once (lease.ts: never do this in production):
    // only the journal's expected-last-sequence stands between them and a fork.
    const twin = ['--rules', 'none', '--node-id', `twin-${logs}`];
    const a = await startServer(serveArgs(keyFile, join(dir, `data-${logs}-a`), ...twin));
    const b = await startServer(serveArgs(keyFile, join(dir, `data-${logs}-b`), ...twin));
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    const statuses: number[][] = [[], []];
    const codes = new Set<string>();
    try {
      const health = await Promise.all([a, b].map(async (s) => (await fetch(`${s.url}/healthz`)).json()));
      expect(health.map((h) => (h as { role: string }).role)).toEqual(['leader', 'leader']);
      const deadline = Date.now() + 3000;
      let n = 0;
      const client = async (c: number) => {
        const side = c % 2;
        const server = side === 0 ? a : b;
        while (Date.now() < deadline) {
          const answer = await post(server, utf8(`two-leaders client ${c} entry ${n++}`));
          statuses[side]!.push(answer.status);
          if (!keepReceipt(answer, receipted, seen))
            codes.add((answer.body as { error?: { code?: string } }).error?.code ?? '?');
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
      // At least one of them met the other's batch and stepped down; its submitters got 503.
      const stepdowns = await Promise.all(
        [a, b].map(async (s) => {
          const text = await (await fetch(`${s.url}/metrics`)).text();
          return Number(/^urna_sequencer_stepdowns_total (\d+)/m.exec(text)?.[1] ?? 0);
        }),
      );
      expect(stepdowns[0]! + stepdowns[1]!).toBeGreaterThan(0);
      for (const s of statuses.flat()) expect([200, 201, 503]).toContain(s);
      expect(statuses.flat()).toContain(503);
      for (const c of codes) expect(['unavailable', 'not_leader', 'pushback']).toContain(c);
      expect(receipted.length).toBeGreaterThan(10);
      for (const s of [a, b]) seen.add(await checkpointOf(s));
    } finally {
      await a.kill();
      await b.kill();
    }
    // The journal replayed into a fresh server: one log, consistent with everything either returned.
    const fresh = await startServer(serveArgs(keyFile, join(dir, `data-${logs}-fresh`), ...twin));
    try {
      const { checkpoint } = await checkLog(fresh, receipted, seen);
      expect(checkpoint.size).toBeGreaterThanOrEqual(receipted.length);
    } finally {
      await fresh.stop();
    }
  });

  it('loses no receipted entry and never forks over kill -9 rounds with the journal on', async () => {
    const ROUNDS = 8;
    const POINTS: Array<FaultPoint | 'external' | 'empty-disk'> = [
      'external',
      'before-journal',
      'after-journal',
      'after-commit',
      'empty-disk',
      'after-sign',
      'after-journal',
      'external',
    ];
    const { keyFile } = await newLog();
    const data = join(dir, `data-${logs}`);
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    let lastSize = 0;
    let injected = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const point = POINTS[round % POINTS.length]!;
      const env: Record<string, string> =
        point === 'external' || point === 'empty-disk'
          ? {}
          : { URNA_CRASH_AT: point, URNA_CRASH_PROBABILITY: '0.2' };
      const server = await startServer(serveArgs(keyFile, data, '--rules', 'none'), env);
      const killAfter = 150 + Math.floor(Math.random() * 600);
      let killedByTest = false;
      const killer = setTimeout(() => {
        killedByTest = true;
        void server.kill();
      }, killAfter);
      await load(server, `round ${round}`, killAfter + 2000, receipted, seen);
      clearTimeout(killer);
      await server.kill();
      if (!killedByTest) injected++;
      if (point === 'empty-disk') await rm(data, { recursive: true, force: true });

      const checker = await startServer(serveArgs(keyFile, data, '--rules', 'none'));
      try {
        const { checkpoint } = await checkLog(checker, receipted, seen);
        expect(checkpoint.size).toBeGreaterThanOrEqual(lastSize);
        lastSize = checkpoint.size;
      } finally {
        await checker.stop();
      }
    }
    expect(receipted.length).toBeGreaterThan(ROUNDS);
    expect(injected).toBeGreaterThan(0);
  });
});
