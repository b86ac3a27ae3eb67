/**
 * The counter's HTTP interface (`urna count --listen`): the snapshots it
 * publishes as static JSON, with cache headers any HTTP cache can follow.
 *
 * | path | answer |
 * |---|---|
 * | `GET /latest.json` | the newest snapshot; `Cache-Control: no-cache` with an ETag (its log size) |
 * | `GET /<size>.json` | the snapshot counted at that size; immutable, cached for a year |
 * | `GET /healthz` | 200 once a first count is published, else 503 |
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Counter } from './counter.js';

export async function buildCountApp(counter: Counter, out?: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }) as unknown as FastifyInstance;
  const json = 'application/json; charset=utf-8';
  app.get('/latest.json', async (request, reply) => {
    const latest = counter.latest;
    if (!latest) return reply.code(503).send({ error: { code: 'not_ready', message: 'no count yet' } });
    const etag = `"${latest.snapshot.log.size}"`;
    reply.header('Cache-Control', 'no-cache').header('ETag', etag).header('Access-Control-Allow-Origin', '*');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type(json).send(Buffer.from(latest.bytes));
  });
  app.get<{ Params: { file: string } }>('/:file', async (request, reply) => {
    const m = /^(\d{1,16})\.json$/.exec(request.params.file);
    if (!m) return reply.code(404).send({ error: { code: 'not_found', message: 'no such file' } });
    const size = Number(m[1]);
    let bytes: Uint8Array | undefined = counter.at(size);
    if (!bytes && out) bytes = await readFile(join(out, `${size}.json`)).catch(() => undefined);
    if (!bytes)
      return reply.code(404).send({ error: { code: 'not_found', message: `no count at size ${size}` } });
    return reply
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .header('Access-Control-Allow-Origin', '*')
      .type(json)
      .send(Buffer.from(bytes));
  });
  app.get('/healthz', async (_request, reply) => {
    const ok = counter.latest !== null;
    return reply.code(ok ? 200 : 503).send({ ok, role: 'counter', ...(ok ? {} : { error: 'no count yet' }) });
  });
  return app;
}
