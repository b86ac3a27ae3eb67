/**
 * The readers' path (`npm run bench -- read`): entries read and
 * authenticated per second by LogReader from a local `urna mirror` over
 * HTTP, beside, in the same run, the raw SHA-256 rate of the same backend
 * (authentication costs about two hashes per entry: its leaf hash, and its
 * share of its level-0 tile's root; plus one tile per 256 above) and a plain
 * HTTP GET of the same tiles with the same concurrency (no
 * authentication). With the portable hash (@noble/hashes, what a browser
 * runs) and with node:crypto (what the Node command line installs).
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { nobleSha256, setSha256Backend } from '../../ledger/hash.js';
import { generateSignerKey } from '../../ledger/note.js';
import { authenticateTiles, authenticationPlan } from '../../ledger/tile-auth.js';
import { entryBundlesForSize, tilePath, TILE_WIDTH } from '../../ledger/tile.js';
import { nativeSha256 } from '../../services/crypto/native-sha256.js';
import { LogReader } from '../../verifier/reader.js';
import { tempDir } from '../helpers/log.js';
import { startNatsServer } from '../helpers/nats.js';
import { startMirror, startServer } from '../helpers/process.js';
import { loadPosts } from './http.js';
import { sha256Rate } from './limits.js';
import type { Report } from './report.js';

export async function benchRead(
  report: Report,
  opts: { entries: number; concurrency?: number },
): Promise<void> {
  const concurrency = opts.concurrency ?? 8;
  const { dir, cleanup } = await tempDir('urna-bench-read-');
  const nats = await startNatsServer({ name: 'bench-read' });
  const { signerKey, verifierKey } = generateSignerKey('bench-read.example/log');
  const keyFile = join(dir, 'log.key');
  await writeFile(keyFile, signerKey + '\n', { mode: 0o600 });
  const serve = await startServer([
    ...['--data', join(dir, 'serve'), '--key', keyFile, '--nats', nats.url],
    ...['--rules', 'none', '--batch-ms', '20', '--max-batch', '8192'],
  ]);
  const mirror = await startMirror([
    '--data',
    join(dir, 'mirror'),
    '--nats',
    nats.url,
    '--log-key',
    verifierKey,
    '--rules',
    'none',
  ]);
  try {
    // Fill the log (entries of ~120 bytes, as the http bench posts).
    const t0 = performance.now();
    while ((await size(serve.url)) < opts.entries) await loadPosts(serve.url, 5, 256);
    const n = await size(serve.url);
    report('log built through POST /add', n, 'entries', `${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const want = await (await fetch(`${serve.url}/checkpoint`)).text();
    for (let i = 0; i < 600 && (await (await fetch(`${mirror.url}/checkpoint`)).text()) !== want; i++)
      await new Promise((r) => setTimeout(r, 100));

    // A plain GET of the tiles a reader of every entry reads (its plan: the bundles, the tiles
    // above them, the edge), same concurrency, no authentication: the HTTP limit.
    const tiles = authenticationPlan(entryBundlesForSize(n), n);
    let next = 0;
    const g0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < tiles.length) {
          const t = tiles[next++]!;
          await (await fetch(`${mirror.url}/${tilePath(t)}`)).arrayBuffer();
        }
      }),
    );
    const getSeconds = (performance.now() - g0) / 1000;
    report(
      'plain GET of the same tiles (no authentication)',
      n / getSeconds,
      'entries/s',
      `${(tiles.length / getSeconds).toFixed(0)} tiles/s, ${concurrency} at once`,
    );

    for (const [name, backend, raw] of [
      ['@noble/hashes (browser)', nobleSha256, (b: Uint8Array) => sha256(b)],
      ['node:crypto', nativeSha256, (b: Uint8Array) => createHash('sha256').update(b).digest()],
    ] as const) {
      setSha256Backend(backend);
      const rate = sha256Rate(raw, 1500);
      report(`raw sha256, 64-byte input, ${name}`, rate, 'hash/s', 'limit');
      // The algorithm alone: the same tiles from memory, authenticated in steps of 16 bundles.
      const { head: h } = await new LogReader(mirror.url, { logKey: verifierKey }).checkpoint();
      const mem = await memoryTiles(mirror.url, h.size, concurrency);
      const a0 = performance.now();
      for (let b = 0; b * TILE_WIDTH < h.size; b += 16) {
        const step = entryBundlesForSize(h.size).slice(b, b + 16);
        authenticateTiles(h, step, (t) => mem.get(tilePath(t)));
      }
      const aSecs = (performance.now() - a0) / 1000;
      report(
        `authenticated in process (tiles in memory), ${name}`,
        h.size / aSecs,
        'entries/s',
        `${(h.size / aSecs / rate).toFixed(2)} of the raw hash rate`,
      );
      const reader = new LogReader(mirror.url, { logKey: verifierKey, concurrency });
      const { head } = await reader.checkpoint();
      const r0 = performance.now();
      let count = 0;
      for await (const _ of reader.entries(0, head.size, head)) count++;
      const secs = (performance.now() - r0) / 1000;
      report(
        `LogReader: entries read and authenticated, ${name}`,
        count / secs,
        'entries/s',
        `${(count / secs / rate).toFixed(2)} of the raw hash rate (goal ≥ 0.50); ` +
          `${(count / secs / (n / getSeconds)).toFixed(2)} of the plain GET`,
      );
    }
    setSha256Backend(nobleSha256);
    report(
      'tiles per entry bundle',
      TILE_WIDTH,
      'entries',
      'one bundle and one level-0 tile per 256 entries',
    );
  } finally {
    await mirror.kill();
    await serve.kill();
    await nats.dispose();
    await cleanup();
  }
}

/** Every tile a reader of the tree of `size` reads, fetched once into memory by path. */
async function memoryTiles(url: string, size: number, concurrency: number): Promise<Map<string, Uint8Array>> {
  const all = authenticationPlan(entryBundlesForSize(size), size);
  const out = new Map<string, Uint8Array>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < all.length) {
        const t = all[next++]!;
        out.set(tilePath(t), new Uint8Array(await (await fetch(`${url}/${tilePath(t)}`)).arrayBuffer()));
      }
    }),
  );
  return out;
}

async function size(url: string): Promise<number> {
  const text = await (await fetch(`${url}/checkpoint`)).text();
  return Number(text.split('\n')[1]);
}
