/**
 * LogReader (verifier/reader.ts) over real HTTP against every kind of
 * tlog-tiles source — a real `urna serve`, a real `urna mirror` following
 * it through NATS, and a static copy of the tiles served by a plain file
 * server — and through a proxy that lies: it corrupts, truncates, delays or
 * drops answers. Reads succeed where the data is good (every receipted
 * entry, proofs that verify against the checkpoint) and fail with the
 * tile named where it is not.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../ledger/bytes.js';
import { leafHash } from '../../ledger/hash.js';
import { verifyConsistency, verifyInclusion } from '../../ledger/merkle.js';
import { generateSignerKey } from '../../ledger/note.js';
import { TileAuthError } from '../../ledger/tile-auth.js';
import { LogError } from '../../verifier/client.js';
import { LogReader } from '../../verifier/reader.js';
import { writeFile } from 'node:fs/promises';
import { load, type Receipted } from '../helpers/audit.js';
import { tempDir } from '../helpers/log.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { startMirror, startServer, type ServerProcess } from '../helpers/process.js';
import { copyTiles, serveDir } from '../helpers/static-copy.js';

let dir: string;
let cleanup: () => Promise<void>;
let nats: NatsServer;
let serve: ServerProcess;
let mirror: ServerProcess;
let copy: { url: string; close(): Promise<void> };
let logKey: string;
const receipted: Receipted[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-reader-'));
  nats = await startNatsServer({ name: 'reader' });
  const { signerKey, verifierKey } = generateSignerKey('reader.example/log');
  logKey = verifierKey;
  const keyFile = join(dir, 'log.key');
  await writeFile(keyFile, signerKey + '\n', { mode: 0o600 });
  serve = await startServer([
    '--data',
    join(dir, 'serve'),
    '--key',
    keyFile,
    '--nats',
    nats.url,
    '--rules',
    'none',
    '--batch-ms',
    '10',
  ]);
  mirror = await startMirror([
    '--data',
    join(dir, 'mirror'),
    '--nats',
    nats.url,
    '--log-key',
    logKey,
    '--rules',
    'none',
  ]);
  // A log of at least 1,200 entries (five full bundles), however slow the machine is today.
  await load(serve, 'reader', 90_000, receipted, new Set(), { until: 1200 });
  // The mirror has caught up once it serves the leader's checkpoint.
  const want = await (await fetch(`${serve.url}/checkpoint`)).text();
  for (let i = 0; i < 200 && (await (await fetch(`${mirror.url}/checkpoint`)).text()) !== want; i++)
    await new Promise((r) => setTimeout(r, 100));
  await copyTiles(serve.url, join(dir, 'static'));
  copy = await serveDir(join(dir, 'static'));
}, 150_000);

afterAll(async () => {
  await copy?.close();
  await mirror?.stop();
  await serve?.stop();
  await nats?.dispose();
  await cleanup?.();
});

/** Reads every entry through `reader` and checks it against the receipts; checks proofs against the checkpoint. */
async function readAll(reader: LogReader) {
  const { head } = await reader.checkpoint();
  const byIndex = new Map(receipted.map((r) => [r.index, r.leafHash]));
  let n = 0;
  for await (const { index, entry } of reader.entries(0, head.size, head)) {
    const want = byIndex.get(index);
    if (want !== undefined) expect(toHex(leafHash(entry)), `entry ${index}`).toBe(want);
    n++;
  }
  expect(n).toBe(head.size);
  for (const r of receipted.slice(0, 20)) {
    const proof = await reader.inclusionProof(r.index, head.size, head);
    verifyInclusion(fromHex(r.leafHash), r.index, head.size, head.root, proof);
  }
  const m = Math.floor(head.size / 3);
  const older = { size: m, root: await reader.rootAt(m, head) };
  verifyConsistency(m, head.size, older.root, head.root, await reader.consistencyProof(m, head.size, head));
  return head;
}

describe('LogReader over real sources', () => {
  it('reads and proves the whole log from the log, a mirror and a static copy of its tiles', async () => {
    const heads = [];
    for (const url of [serve.url, mirror.url, copy.url])
      heads.push(await readAll(new LogReader(url, { logKey })));
    expect(heads[0]!.size).toBeGreaterThan(1000);
    for (const h of heads) expect(toHex(h.root)).toBe(toHex(heads[2]!.root));
  });

  /** A proxy in front of `target` that applies `lie` to each answer (by path). */
  async function proxy(
    target: string,
    lie: (path: string, body: Buffer, n: number) => Promise<Buffer | 'drop' | 503>,
  ) {
    let n = 0;
    const server: Server = createServer((req, res) => {
      const path = req.url ?? '/';
      void (async () => {
        const upstream = await fetch(`${target}${path}`);
        const body = Buffer.from(await upstream.arrayBuffer());
        const out = await lie(path, body, n++);
        if (out === 'drop') return req.socket.destroy();
        if (out === 503) return res.writeHead(503, { 'Retry-After': '0' }).end('busy');
        res.writeHead(upstream.status, { 'Content-Type': 'application/octet-stream' }).end(out);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('through a proxy that delays or drops answers now and then: reads succeed (retries)', async () => {
    const p = await proxy(copy.url, async (_path, body, n) => {
      if (n % 7 === 3) return 'drop';
      if (n % 11 === 5) return 503;
      if (n % 5 === 0) await new Promise((r) => setTimeout(r, 100));
      return body;
    });
    try {
      await readAll(new LogReader(p.url, { logKey, http: { maxRetries: 6, maxDelayMs: 50 } }));
    } finally {
      await p.close();
    }
  });

  it('through a proxy that corrupts or truncates a tile: the read fails naming it', async () => {
    const lies: Array<[string, (path: string, body: Buffer) => Buffer]> = [
      ['a flipped byte in a bundle', (path, b) => (path === '/tile/entries/002' ? flip(b, 40) : b)],
      [
        'a flipped byte in the level-1 tile above the bundles',
        (path, b) => (path.startsWith('/tile/1/000') ? flip(b, 64) : b),
      ],
      ['a truncated bundle', (path, b) => (path === '/tile/entries/001' ? b.subarray(0, b.length - 3) : b)],
    ];
    for (const [what, lie] of lies) {
      const p = await proxy(copy.url, async (path, body) => lie(path, body));
      try {
        const reader = new LogReader(p.url, { logKey });
        const { head } = await reader.checkpoint();
        const err = await (async () => {
          for await (const _ of reader.entries(0, head.size, head)) void _;
        })().catch((e: unknown) => e);
        expect(err, what).toBeInstanceOf(TileAuthError);
        expect((err as TileAuthError).message, what).toMatch(/tile\/(entries\/00[12]|1\/000)[ .]/);
      } finally {
        await p.close();
      }
    }
  });

  it('a source that answers nothing for good fails with a LogError, not a wrong answer', async () => {
    const p = await proxy(copy.url, async (path, body) => (path.startsWith('/tile/') ? 'drop' : body));
    try {
      const reader = new LogReader(p.url, { logKey, http: { maxRetries: 2, maxDelayMs: 10 } });
      await expect(reader.entry(5)).rejects.toBeInstanceOf(LogError);
    } finally {
      await p.close();
    }
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at]! ^= 1;
  return c;
}
