/**
 * The log's HTTP API, composed in order: content types, errors (one JSON
 * shape for every error, the parser's and the rate limiter's included),
 * limits, then the routes, each group under its rate budget (write path,
 * tlog-tiles read path, proofs, election reads, operations). Process
 * concerns (listen, signals, a bounded shutdown) live in ../server.ts.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';
import { silentLogger } from '../log.js';
import { StorageCorruptError, StorageUnavailableError } from '../storage/errors.js';
import { clientErrorHandler, HttpError, sendError } from './errors.js';
import {
  capConnections,
  CostBudget,
  rateLimiters,
  serverOptions,
  UNLIMITED,
  type BudgetHooks,
} from './limits.js';
import type { AppOptions, RouteOptions } from './options.js';
import { electionRoutes } from './routes/elections.js';
import { operationsRoutes } from './routes/operations.js';
import { proofRoutes } from './routes/proofs.js';
import { readRoutes } from './routes/read.js';
import { webRoutes } from './routes/web.js';
import { writeRoutes } from './routes/write.js';

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

/** An HTTP app that says it is shutting down: new requests get 503 `shutting_down` (see `closing`). */
export type UrnaApp = FastifyInstance & { closing: boolean };

export async function buildApp(opts: AppOptions): Promise<UrnaApp> {
  const log = opts.log ?? silentLogger;
  const limits = opts.limits ?? UNLIMITED;
  const app = Fastify({
    loggerInstance: log as never,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_ENTRY_SIZE,
    // Our own hook answers while closing, in the documented shape (below).
    return503OnClosing: false,
    clientErrorHandler: clientErrorHandler(log),
    // Errors fastify meets before routing (a malformed URL): the same JSON shape.
    frameworkErrors: (e, request, reply) => sendError(e, request, reply),
    ...serverOptions(limits),
  }) as unknown as UrnaApp;
  app.closing = false;
  capConnections(app.server, limits, log);

  acceptRawBodies(app);
  app.setErrorHandler((e, request, reply) => {
    if (e instanceof StorageCorruptError) opts.node.storageCorrupt?.(e);
    if (e instanceof StorageUnavailableError) opts.node.storageUnavailable?.(e);
    return sendError(e, request, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(new HttpError(404, 'not_found', `no route ${request.method} ${request.url}`), request, reply),
  );
  app.addHook('onRequest', async (_request, reply) => {
    if (!app.closing) return;
    reply.header('Connection', 'close');
    throw new HttpError(
      503,
      'shutting_down',
      'the node is shutting down, retry (another node, or shortly)',
      2,
    );
  });

  const requests = opts.metrics.counter('urna_http_requests_total', 'HTTP requests answered.');
  const errors = opts.metrics.counter(
    'urna_http_errors_total',
    'HTTP requests answered with a 4xx or 5xx status.',
  );
  const limited = opts.metrics.counter(
    'urna_http_rate_limited_total',
    'Requests answered 429 (rate limited).',
  );
  // Reads are public: a page on any host (a static copy of /web/, a newsroom's) may read the log (CORS).
  app.addHook('onSend', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD')
      reply.header('Access-Control-Allow-Origin', '*');
  });
  app.addHook('onResponse', async (_req, reply) => {
    requests.inc();
    if (reply.statusCode >= 400) errors.inc();
    if (reply.statusCode === 429) limited.inc();
  });

  const budgets = await rateLimiters(app, limits);
  const routeOptions: RouteOptions = {
    ...opts,
    oldSizeProofs: new CostBudget(limits.oldSizeProofsPerSecond),
  };
  const under = async (hooks: Array<BudgetHooks | null>, routes: FastifyPluginAsync<RouteOptions>) =>
    app.register(async (scope) => {
      for (const h of hooks) {
        if (!h) continue;
        scope.addHook('onRequest', h.onRequest);
        if (h.onResponse) scope.addHook('onResponse', h.onResponse);
      }
      await scope.register(routes, routeOptions);
    });
  await under([budgets.writes, budgets.rejected], writeRoutes);
  await under([budgets.reads], readRoutes);
  await under([budgets.proofs], proofRoutes);
  await under([budgets.reads], electionRoutes);
  await under([], operationsRoutes);
  await under([budgets.reads], webRoutes);
  return app;
}
