/**
 * The log's HTTP API, composed in order: content types and errors, then the
 * routes (write path, tlog-tiles read path, proofs, operations). Process
 * concerns (listen, signals, shutdown) live in ../server.ts.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from '../metrics.js';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';
import type { LogStore } from '../storage/store.js';
import { HttpError, sendError } from './errors.js';
import type { LogNode } from './log-node.js';
import { StorageCorruptError } from '../sequencer/tile-reader.js';
import { electionRoutes } from './routes/elections.js';
import { operationsRoutes } from './routes/operations.js';
import { proofRoutes } from './routes/proofs.js';
import { readRoutes } from './routes/read.js';
import { writeRoutes } from './routes/write.js';

export interface AppOptions {
  /** The node served: a sequencer, a standby or a mirror. */
  node: LogNode;
  store: LogStore;
  metrics: Registry;
  logger?: FastifyServerOptions['logger'];
}

/**
 * Entries are exact bytes (records are canonical JSON whose bytes are signed),
 * so bodies are never parsed: both accepted types arrive as raw bytes, any
 * other type is refused (415).
 */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/octet-stream', 'application/json'],
    { parseAs: 'buffer', bodyLimit: MAX_ENTRY_SIZE },
    (_req, body, done) => done(null, body),
  );
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_ENTRY_SIZE, return503OnClosing: true });

  acceptRawBodies(app);
  app.setErrorHandler((e, request, reply) => {
    if (e instanceof StorageCorruptError) opts.node.storageCorrupt?.(e);
    return sendError(e, request, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(new HttpError(404, 'not_found', `no route ${request.method} ${request.url}`), request, reply),
  );

  const requests = opts.metrics.counter('urna_http_requests_total', 'HTTP requests answered.');
  const errors = opts.metrics.counter(
    'urna_http_errors_total',
    'HTTP requests answered with a 4xx or 5xx status.',
  );
  app.addHook('onResponse', async (_req, reply) => {
    requests.inc();
    if (reply.statusCode >= 400) errors.inc();
  });

  await app.register(writeRoutes, opts);
  await app.register(readRoutes, opts);
  await app.register(proofRoutes, opts);
  await app.register(electionRoutes, opts);
  await app.register(operationsRoutes, opts);
  return app;
}
