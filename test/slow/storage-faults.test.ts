/**
 * Storage faults with real processes and real files: the store of a
 * stopped or killed `urna serve` is damaged as operators meet it — its
 * write-ahead log truncated at random offsets or with flipped bytes, its
 * CURRENT file deleted, a table file deleted or corrupted, the whole data
 * dir replaced by an older copy — and started again. Every time the node
 * refuses to serve (or, for damage start-up cannot see, the scrub reports
 * it unhealthy), `urna restore` rebuilds the data dir from a static copy of
 * the tiles, and then every receipted entry is at its index and no
 * checkpoint the log ever signed is inconsistent with another. With
 * `--nats` the node rebuilds from the journal by itself.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../ledger/note.js';
import { checkLog, load, type Receipted } from '../helpers/audit.js';
import { tempDir } from '../helpers/log.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { StartError, startServer, URNA_BIN, type ServerProcess } from '../helpers/process.js';
import { copyTiles, serveDir } from '../helpers/static-copy.js';

let dir: string;
let cleanup: () => Promise<void>;
let logs = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-storage-faults-'));
});
afterAll(async () => cleanup?.());

/** A fresh log: its key (and so its signer state) outside the data dir, as production keeps them. */
async function newLog(): Promise<{ keyFile: string; data: string; origin: string }> {
  const n = ++logs;
  const origin = `faults-${n}.example/log`;
  await mkdir(join(dir, 'keys'), { recursive: true });
  const keyFile = join(dir, 'keys', `log-${n}.key`);
  await writeFile(keyFile, generateSignerKey(origin).signerKey + '\n', { mode: 0o600 });
  return { keyFile, data: join(dir, `data-${n}`), origin };
}

const RAW = ['--rules', 'none', '--batch-ms', '10'];

/** Runs `urna ARGS`; resolves with its exit code and output. */
function urna(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [URNA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

/** `urna restore` of `log`'s data dir from a static copy of tiles served from `tiles` (the log's key, no rules). */
async function restoreFrom(tiles: string, log: { data: string; keyFile: string }) {
  const source = await serveDir(tiles);
  try {
    return await urna([
      'restore',
      '--from',
      source.url,
      '--data',
      log.data,
      '--key',
      log.keyFile,
      '--rules',
      'none',
    ]);
  } finally {
    await source.close();
  }
}

/**
 * Starts the node, or returns the output of a start it refused (exit 1,
 * before listening), or of one LevelDB's own assertions aborted (a table
 * too damaged for it: SIGABRT).
 */
async function startOrRefusal(
  args: string[],
): Promise<ServerProcess | { refused: string } | { aborted: string }> {
  try {
    return await startServer(args);
  } catch (e) {
    if (!(e instanceof StartError)) throw e;
    if (e.code === null && /leveldb.*Assertion .* failed/.test(e.out)) return { aborted: e.out };
    expect(e.code, e.out).toBe(1);
    return { refused: e.out };
  }
}

/** The files of LevelDB's database in `data`. */
async function dbFiles(data: string, suffix: string): Promise<string[]> {
  return (await readdir(join(data, 'db'))).filter((f) => f.endsWith(suffix)).sort();
}

/** What a damage does to a stopped node's data dir (`older`: a copy of it taken earlier). */
type Damage = (data: string, older: string) => Promise<void>;

const DAMAGES: Record<string, Damage> = {
  async 'truncated write-ahead log'(data) {
    const wal = join(data, 'db', (await dbFiles(data, '.log')).at(-1)!);
    const { size } = await stat(wal);
    await truncate(wal, Math.floor(Math.random() * 0.9 * size));
  },
  async 'flipped bytes in the write-ahead log'(data) {
    const wal = join(data, 'db', (await dbFiles(data, '.log')).at(-1)!);
    const bytes = await readFile(wal);
    const at = Math.floor(Math.random() * Math.max(1, bytes.length - 200));
    for (let i = 0; i < 16; i++) bytes[at + i * 11]! ^= 0xff;
    await writeFile(wal, bytes);
  },
  async 'deleted CURRENT'(data) {
    await unlink(join(data, 'db', 'CURRENT'));
  },
  async 'deleted table file'(data) {
    await unlink(join(data, 'db', (await dbFiles(data, '.ldb'))[0]!));
  },
  async 'corrupted table file'(data) {
    // The table's keys are sorted: the leaf index (`l/…`, written once per
    // entry, so all of it is live) comes first; later on, older versions of
    // the partial tiles that newer ones shadow may be all that is hit.
    const table = join(data, 'db', (await dbFiles(data, '.ldb'))[0]!);
    const bytes = await readFile(table);
    for (let spot = 0; spot < 8; spot++) {
      const at = Math.floor(bytes.length * (0.01 + 0.07 * Math.random()));
      for (let i = 0; i < 64; i++) bytes[at + i * 3]! ^= 0x5a;
    }
    await writeFile(table, bytes);
  },
  async 'an older copy of the whole data dir'(data, older) {
    await rm(data, { recursive: true });
    await cp(older, data, { recursive: true });
  },
};

/**
 * A log with receipted entries in two phases (a restart between them, so
 * that LevelDB has written a table file, and a copy of the data dir taken
 * then), a static copy of its tiles at the end, then stopped (SIGTERM) or
 * killed (SIGKILL).
 */
async function damagedLog(extra: string[] = []) {
  const log = await newLog();
  const args = ['--data', log.data, '--key', log.keyFile, ...RAW, ...extra];
  const receipted: Receipted[] = [];
  const seen = new Set<string>();
  let server = await startServer(args);
  await load(server, 'phase 1', 700, receipted, seen);
  await server.stop();
  const older = join(dir, `older-${logs}`);
  await cp(log.data, older, { recursive: true });
  server = await startServer(args);
  await load(server, 'phase 2', 900, receipted, seen);
  const tiles = join(dir, `tiles-${logs}`);
  await copyTiles(server.url, tiles);
  if (Math.random() < 0.5) await server.kill();
  else await server.stop();
  return { ...log, args, receipted, seen, older, tiles };
}

/** Polls /healthz until `until` holds or `ms` passes; the last status and body (status 0: the node stopped answering). */
async function healthWithin(server: ServerProcess, ms: number, until: (status: number) => boolean) {
  const deadline = Date.now() + ms;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/healthz`).catch(() => null);
    if (res === null) return { status: 0, body: '' }; // no answer: the process is gone
    last = { status: res.status, body: await res.text() };
    if (until(last.status)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

async function scrubPasses(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^urna_scrub_passes_total (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('a damaged store of a single node', () => {
  const ROUNDS: Array<[string, number]> = [
    ['truncated write-ahead log', 4],
    ['flipped bytes in the write-ahead log', 3],
    ['deleted CURRENT', 1],
    ['deleted table file', 1],
    ['corrupted table file', 2],
    ['an older copy of the whole data dir', 1],
  ];
  const outcomes: string[] = [];

  for (const [name, rounds] of ROUNDS) {
    it(`${name}: refused or reported, restored, nothing receipted lost, no fork (${rounds} round(s))`, async () => {
      for (let round = 0; round < rounds; round++) {
        const log = await damagedLog();
        await DAMAGES[name]!(log.data, log.older);
        const scrubbing = ['--scrub-rate', '1000000', '--scrub-pause-ms', '200'];
        const started = await startOrRefusal([...log.args, ...scrubbing]);
        let outcome: string;
        if ('aborted' in started) {
          outcome = 'aborted by LevelDB'; // at start: see below
        } else if ('refused' in started) {
          expect(started.refused).toMatch(/cannot be served|lost entries|Nothing is served/);
          expect(started.refused).toMatch(/urna restore --from URL/);
          outcome = 'refused at start';
        } else {
          // Damage start-up cannot see: the scrub must report it, or the log is whole. Or LevelDB
          // meets a table so damaged that its own assertions abort the process (classic-level's
          // build keeps them): nothing is served from it either, and a supervisor's restart meets
          // it again; the remedy is the same.
          const health = await healthWithin(started, 20_000, (s) => s === 503);
          if (health.status === 0) {
            await started.exited;
            expect(started.proc.signalCode, started.output()).toBe('SIGABRT');
            expect(started.output()).toMatch(/leveldb.*Assertion .* failed/);
            outcome = 'aborted by LevelDB';
          } else if (health.status === 503) {
            expect(health.body, health.body).toMatch(/corrupt|storage/i);
            outcome = 'unhealthy (scrub)';
          } else {
            expect(await scrubPasses(started)).toBeGreaterThan(0);
            await checkLog(started, log.receipted, log.seen);
            outcome = 'intact';
          }
          await started.stop();
        }
        outcomes.push(`${name}: ${outcome}`);
        console.info(`storage faults: ${name}, round ${round}: ${outcome}`);
        if (outcome === 'intact') continue;
        // The remedy it names: rebuild from any copy of the tiles.
        const r = await restoreFrom(log.tiles, log);
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(/restored \d+ entries/);
        const restored = await startServer(log.args);
        try {
          await checkLog(restored, log.receipted, log.seen);
          expect((await fetch(`${restored.url}/healthz`)).status).toBe(200);
        } finally {
          await restored.stop();
        }
      }
      // Damage that takes away what the key signed is always caught at start.
      if (['deleted CURRENT', 'deleted table file', 'an older copy of the whole data dir'].includes(name))
        expect(outcomes.filter((o) => o.startsWith(name)).every((o) => o.endsWith('refused at start'))).toBe(
          true,
        );
      if (name === 'corrupted table file')
        expect(outcomes.filter((o) => o.startsWith(name)).some((o) => !o.endsWith('intact'))).toBe(true);
      if (name === 'truncated write-ahead log')
        expect(outcomes.filter((o) => o.startsWith(name)).some((o) => o.endsWith('refused at start'))).toBe(
          true,
        );
    });
  }

  it('restore refuses a source behind what the key signed, and one that lies about an entry', async () => {
    const log = await newLog();
    const args = ['--data', log.data, '--key', log.keyFile, ...RAW];
    let server = await startServer(args);
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    await load(server, 'early', 400, receipted, seen);
    const early = join(dir, `tiles-early-${logs}`);
    await copyTiles(server.url, early);
    await load(server, 'late', 400, receipted, seen);
    const late = join(dir, `tiles-late-${logs}`);
    await copyTiles(server.url, late);
    await server.stop();
    // A lying copy: one entry changed in the first bundle.
    const bundle = join(late, 'tile', 'entries', '000');
    const bytes = await readFile(bundle);
    bytes[10]! ^= 1;
    await writeFile(bundle, bytes);
    const before = await readdir(log.data);
    for (const [tiles, why] of [
      [early, /behind the checkpoint of size/],
      [late, /does not hold the log the key signed|rules reject|give root/],
    ] as const) {
      const r = await restoreFrom(tiles, log);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(why);
    }
    // Nothing changed: the data dir is as it was, and serves the whole log.
    expect(await readdir(log.data)).toEqual(before);
    server = await startServer(args);
    try {
      await checkLog(server, receipted, seen);
    } finally {
      await server.stop();
    }
  });
});

describe('a damaged store of a node with a journal (--nats)', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer({ name: 'storage-faults' });
  });
  afterAll(async () => nats?.dispose());

  for (const name of [
    'truncated write-ahead log',
    'deleted CURRENT',
    'an older copy of the whole data dir',
  ]) {
    it(`${name}: rebuilt from the journal by itself, nothing receipted lost`, async () => {
      const log = await damagedLog(['--nats', nats.url]);
      await DAMAGES[name]!(log.data, log.older);
      const server = await startServer(log.args);
      try {
        await checkLog(server, log.receipted, log.seen);
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        if (name === 'deleted CURRENT') {
          expect(server.output()).toMatch(/rebuilding from the journal/);
          expect((await readdir(log.data)).some((f) => f.startsWith('db.unusable-'))).toBe(true);
        }
      } finally {
        await server.stop();
      }
    });
  }
});
