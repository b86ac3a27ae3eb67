import type { FastifyInstance } from 'fastify';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { equalBytes, fromBase64, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { leafHash } from '../../ledger/hash.js';
import { treeHash, verifyConsistency, verifyInclusion } from '../../ledger/merkle.js';
import { openNote } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import {
  parseEntryBundle,
  tilePath,
  tilesForSize,
  UnverifiedTileHashReader,
  type Tile,
} from '../../ledger/tile.js';
import { buildApp } from '../../services/api/app.js';
import type { MemoryStore } from '../../services/storage/memory.js';
import { entries, openTestLog, submitAndTick, waitForPool, type TestLog } from '../helpers/log.js';

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function setup(n = 0, opts: Parameters<typeof openTestLog>[0] = {}) {
  const log = await openTestLog(opts);
  if (n) await submitAndTick(log, entries(n));
  app = await buildApp({ node: log.sequencer, store: log.store, metrics: log.metrics });
  return { log, app };
}

/** What a log's state must look like: the size the log reports, and nothing appended. */
async function expectUnchanged(log: TestLog, size: number) {
  await log.sequencer.tick();
  expect(log.sequencer.head.size).toBe(size);
  expect((await log.store.readHead())?.size ?? 0).toBe(size);
}

describe('write path', () => {
  it('POST /add answers with index, tracker and a receipt that verifies', async () => {
    const { log, app } = await setup();
    const body = utf8('{"hello":"world"}');
    const pending = app.inject({
      method: 'POST',
      url: '/add',
      payload: Buffer.from(body),
      headers: { 'content-type': 'application/json' },
    });
    await waitForPool(log, 1);
    await log.sequencer.tick();
    const res = await pending;
    expect(res.statusCode).toBe(201);
    const json = res.json();
    expect(json.index).toBe(0);
    expect(json.leafHash).toBe(Buffer.from(leafHash(body)).toString('hex'));
    verifyReceipt(json.receipt, { entry: body }, log.verifier);
    const again = await app.inject({
      method: 'POST',
      url: '/add',
      payload: Buffer.from(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ index: 0, duplicate: true });
  });

  it('POST /add?receipt=later answers with index and tracker only; GET /receipt serves the receipt', async () => {
    const { log, app } = await setup(2);
    const body = utf8('{"later":true}');
    const post = (url: string) =>
      app.inject({
        method: 'POST',
        url,
        payload: Buffer.from(body),
        headers: { 'content-type': 'application/json' },
      });
    const pending = post('/add?receipt=later');
    await waitForPool(log, 1);
    await log.sequencer.tick();
    const res = await pending;
    expect(res.statusCode).toBe(201);
    const hex = Buffer.from(leafHash(body)).toString('hex');
    expect(res.json()).toEqual({ index: 2, leafHash: hex, duplicate: false });
    const receipt = await app.inject(`/receipt/${hex}`);
    expect(receipt.statusCode).toBe(200);
    expect(verifyReceipt(receipt.body, { entry: body }, log.verifier).checkpoint.size).toBe(3);
    // A resubmission is answered the same way, as a duplicate; with the default, with its receipt.
    expect((await post('/add?receipt=later')).json()).toEqual({ index: 2, leafHash: hex, duplicate: true });
    const now = await post('/add?receipt=now');
    expect(now.statusCode).toBe(200);
    verifyReceipt(now.json().receipt, { entry: body }, log.verifier);
  });

  it('refuses an unknown ?receipt= value with 400 and appends nothing', async () => {
    const { log, app } = await setup(3);
    for (const query of ['receipt=soon', 'receipt=now&receipt=later']) {
      const res = await app.inject({
        method: 'POST',
        url: `/add?${query}`,
        payload: 'entry',
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'malformed' } });
    }
    await expectUnchanged(log, 3);
  });

  it.each([
    [
      'empty body',
      { payload: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } },
      400,
      'empty',
    ],
    ['no body', { headers: {} }, 400, 'empty'],
    [
      'oversize body',
      { payload: Buffer.alloc(65536, 1), headers: { 'content-type': 'application/octet-stream' } },
      413,
      'too_large',
    ],
    [
      'wrong content type',
      { payload: 'x', headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported_media_type',
    ],
  ])('rejects %s with a clear error and appends nothing', async (_name, req, status, code) => {
    const { log, app } = await setup(3);
    const res = await app.inject({ method: 'POST', url: '/add', ...(req as object) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error: { code } });
    await expectUnchanged(log, 3);
  });

  it('answers 503 with Retry-After when the pool is full', async () => {
    const { log, app } = await setup(0, { maxPending: 1 });
    const first = app.inject({
      method: 'POST',
      url: '/add',
      payload: 'a',
      headers: { 'content-type': 'application/octet-stream' },
    });
    await waitForPool(log, 1);
    const res = await app.inject({
      method: 'POST',
      url: '/add',
      payload: 'b',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().error.code).toBe('pushback');
    await log.sequencer.tick();
    expect((await first).statusCode).toBe(201);
    await expectUnchanged(log, 1);
  });
});

describe('read path', () => {
  it('serves tiles from which a client recomputes the signed root and every entry', async () => {
    const n = 70_000 / 100; // crosses tile boundaries at two levels when the tiles are per 256
    const { log, app } = await setup(n);
    const note = (await app.inject('/checkpoint')).body;
    const c = parseCheckpoint(openNote(note, [log.verifier]).text);
    expect(c.size).toBe(n);
    const fetched = new Map<string, Uint8Array>();
    for (const t of tilesForSize(c.size)) {
      const res = await app.inject(`/${tilePath(t)}`);
      expect(res.statusCode, tilePath(t)).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      fetched.set(tilePath(t), new Uint8Array(res.rawPayload));
    }
    const reader = new UnverifiedTileHashReader(c.size, (ts: Tile[]) =>
      ts.map((t) => fetched.get(tilePath(t))!),
    );
    expect(equalBytes(treeHash(c.size, reader), c.root)).toBe(true);
    // Entry bundles hold the entries themselves.
    const all: Uint8Array[] = [];
    for (let i = 0; i * 256 < n; i++) {
      const width = Math.min(256, n - i * 256);
      const res = await app.inject(`/${tilePath({ level: -1, index: i, width })}`);
      expect(res.statusCode).toBe(200);
      all.push(...parseEntryBundle(new Uint8Array(res.rawPayload), width));
    }
    expect(all.map((e) => new TextDecoder().decode(e))).toEqual(
      entries(n).map((e) => new TextDecoder().decode(e)),
    );
  });

  it('serves entry bundles gzip compressed to a client that accepts it, compressed once; hash tiles as they are', async () => {
    const { app } = await setup(300);
    const plain = await app.inject('/tile/entries/000');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    for (const accept of ['gzip', 'br, gzip;q=0.5', 'deflate, *']) {
      const res = await app.inject({ url: '/tile/entries/000', headers: { 'accept-encoding': accept } });
      expect(res.headers['content-encoding'], accept).toBe('gzip');
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(gunzipSync(res.rawPayload)).toEqual(plain.rawPayload);
      expect(res.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
    }
    const part = await app.inject({ url: '/tile/entries/001.p/44', headers: { 'accept-encoding': 'gzip' } });
    expect(gunzipSync(part.rawPayload)).toEqual((await app.inject('/tile/entries/001.p/44')).rawPayload);
    for (const accept of ['identity', 'gzip;q=0', 'br', '*;q=0']) {
      const res = await app.inject({ url: '/tile/entries/000', headers: { 'accept-encoding': accept } });
      expect(res.headers['content-encoding'], accept).toBeUndefined();
      expect(res.rawPayload).toEqual(plain.rawPayload);
    }
    const hashes = await app.inject({ url: '/tile/0/000', headers: { 'accept-encoding': 'gzip' } });
    expect(hashes.headers['content-encoding']).toBeUndefined();
    expect(hashes.rawPayload.length).toBe(256 * 32);
  });

  it('serves a partial tile as a prefix of a wider one, and 404s tiles beyond the tree', async () => {
    const { app } = await setup(300);
    const full = await app.inject('/tile/0/000');
    const part = await app.inject('/tile/0/000.p/17');
    expect(part.statusCode).toBe(200);
    expect(part.rawPayload).toEqual(full.rawPayload.subarray(0, 17 * 32));
    for (const url of [
      '/tile/0/001',
      '/tile/0/001.p/45',
      '/tile/1/000',
      '/tile/entries/002',
      '/tile/entries/001',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
  });

  it.each([
    '/tile/0/5',
    '/tile/0/x005',
    '/tile/0/005.p/0',
    '/tile/0/005.p/256',
    '/tile/-1/000',
    '/tile/0/0000',
    '/tile/a/000',
    '/tile/0/005.p/',
  ])('rejects the bad tile path %s with 400', async (url) => {
    const { app } = await setup(3);
    const res = await app.inject(url);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('malformed');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { app } = await setup();
    const res = await app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
  });
});

describe('proofs', () => {
  it('serves receipts and inclusion/consistency proofs that verify', async () => {
    const { log, app } = await setup(1000);
    const c = parseCheckpoint(openNote(log.sequencer.head.checkpoint, [log.verifier]).text);
    const entry = entries(1000)[617]!;
    const hex = Buffer.from(leafHash(entry)).toString('hex');
    const receipt = await app.inject(`/receipt/${hex}`);
    expect(receipt.statusCode).toBe(200);
    expect(verifyReceipt(receipt.body, { entry }, log.verifier).checkpoint.size).toBe(1000);

    const inc = (await app.inject('/proof/inclusion?index=617&size=1000')).json();
    verifyInclusion(leafHash(entry), 617, 1000, c.root, inc.proof.map(fromBase64));
    const small = (await app.inject('/proof/inclusion?index=617&size=700')).json();
    verifyInclusion(leafHash(entry), 617, 700, fromBase64(small.root), small.proof.map(fromBase64));
    const cons = (await app.inject('/proof/consistency?from=700&to=1000')).json();
    verifyConsistency(700, 1000, fromBase64(small.root), c.root, cons.proof.map(fromBase64));
  });

  it.each([
    ['/proof/inclusion?index=5&size=11', 400, 'out_of_range'],
    ['/proof/inclusion?index=10&size=10', 400, 'out_of_range'],
    ['/proof/inclusion?index=-1&size=5', 400, 'bad_request'],
    ['/proof/inclusion?index=01&size=5', 400, 'bad_request'],
    ['/proof/inclusion?size=5', 400, 'bad_request'],
    ['/proof/consistency?from=0&to=5', 400, 'out_of_range'],
    ['/proof/consistency?from=6&to=5', 400, 'out_of_range'],
    ['/proof/consistency?from=5&to=11', 400, 'out_of_range'],
    ['/receipt/00', 400, 'malformed'],
    [`/receipt/${'ab'.repeat(32)}`, 404, 'not_found'],
  ])('%s → %i %s', async (url, status, code) => {
    const { log, app } = await setup(10);
    const res = await app.inject(url);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    await expectUnchanged(log, 10);
  });
});

describe('operations', () => {
  it('reports health and Prometheus metrics', async () => {
    const { app } = await setup(5);
    expect((await app.inject('/healthz')).json()).toMatchObject({ ok: true, size: 5 });
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/^urna_entries_sequenced_total 5$/m);
    expect(metrics).toMatch(/^urna_batch_size_count 1$/m);
    expect(metrics).toMatch(/^urna_pool_depth 0$/m);
  });
});

describe('corrupt storage', () => {
  it('refuses to serve a tile, bundle, record or proof it cannot prove against the signed head', async () => {
    const { log, app } = await setup(600);
    const size = log.sequencer.head.size;
    const store = log.store as MemoryStore;
    const good = (await app.inject('/tile/0/000')).rawPayload;
    expect((await app.inject('/tile/0/001')).statusCode).toBe(200);
    // A fresh node over the same store (cold cache), after one byte of tile 0/000 flipped "on disk".
    const bad = Uint8Array.from(good);
    bad[40]! ^= 1;
    store.corruptTile({ level: 0, index: 0 }, bad);
    const cold = await openTestLog({ store, signerKey: log.signerKey });
    const fresh = await buildApp({ node: cold.sequencer, store, metrics: cold.metrics });
    try {
      for (const url of ['/tile/0/000', '/proof/inclusion?index=1&size=' + size]) {
        const res = await fresh.inject(url);
        expect(res.statusCode, url).toBe(500);
        expect(res.json().error.code, url).toBe('storage_corrupt');
      }
      // What does not depend on the corrupt tile is still served, and verifies: the bundle of
      // the same index too (its own entries authenticate it against the tile above).
      expect((await fresh.inject('/tile/entries/000')).statusCode).toBe(200);
      expect((await fresh.inject('/records/1')).json()).toMatchObject({ index: 1 });
      expect((await fresh.inject('/tile/0/001')).statusCode).toBe(200);
      expect((await fresh.inject('/checkpoint')).statusCode).toBe(200);
      const proof = (await fresh.inject(`/proof/inclusion?index=300&size=${size}`)).json();
      verifyInclusion(
        leafHash(entries(600)[300]!),
        300,
        size,
        log.sequencer.head.root,
        proof.proof.map(fromBase64),
      );
    } finally {
      await fresh.close();
      await cold.sequencer.stop();
    }
  });
});

describe('over real loopback HTTP', () => {
  it('accepts concurrent submissions from fetch and every receipt verifies', async () => {
    const log = await openTestLog({ batchPeriodMs: 20 });
    app = await buildApp({ node: log.sequencer, store: log.store, metrics: log.metrics });
    log.sequencer.start();
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const input = entries(200, 'loop');
    const results = await Promise.all(
      input.map(async (e) => {
        const res = await fetch(`${url}/add`, {
          method: 'POST',
          body: Buffer.from(e),
          headers: { 'content-type': 'application/octet-stream' },
        });
        expect(res.status).toBe(201);
        return (await res.json()) as { index: number; receipt: string };
      }),
    );
    results.forEach((r, i) => verifyReceipt(r.receipt, { entry: input[i]! }, log.verifier));
    expect(new Set(results.map((r) => r.index)).size).toBe(200);
    // Bad requests over the wire get their errors, and the server stays up.
    const bad = await Promise.all([
      fetch(`${url}/add`, {
        method: 'POST',
        body: '',
        headers: { 'content-type': 'application/octet-stream' },
      }),
      fetch(`${url}/add`, {
        method: 'POST',
        body: 'x'.repeat(70_000),
        headers: { 'content-type': 'application/octet-stream' },
      }),
      fetch(`${url}/add`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }),
      fetch(`${url}/tile/0/x1`),
      fetch(`${url}/proof/consistency?from=1&to=999999`),
    ]);
    expect(bad.map((r) => r.status)).toEqual([400, 413, 415, 400, 400]);
    const after = await fetch(`${url}/add`, {
      method: 'POST',
      body: 'still up',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(after.status).toBe(201);
    expect(log.sequencer.head.size).toBe(201);
    await log.sequencer.stop();
  });
});
