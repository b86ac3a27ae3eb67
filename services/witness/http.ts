/**
 * The witness's HTTP interface (C2SP tlog-witness v1.0.0 §HTTP Interface):
 * `POST /add-checkpoint` with the statuses the spec fixes, and, for
 * monitors, `GET /<lower-case hex SHA-256 of the origin>/checkpoint` (the
 * latest checkpoint it cosigned, with its cosignature). Bodies are bounded,
 * requests timed (the node's HTTP limits), and beyond `maxPending` requests
 * in progress the witness answers 429 with Retry-After.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { WitnessRefusalCode } from '../../ledger/witness.js';
import { WitnessRefusal } from '../../ledger/witness.js';
import { capConnections, serverOptions, UNLIMITED, type HttpLimits } from '../api/limits.js';
import { silentLogger, type Logger } from '../log.js';
import type { Witness } from './witness.js';

/** The status of each refusal (tlog-witness §add-checkpoint). */
export const WITNESS_STATUS: Record<WitnessRefusalCode, number> = {
  malformed: 400,
  unknown_log: 404,
  unverified: 403,
  old_size_too_large: 400,
  size_mismatch: 409,
  bad_proof: 422,
  root_mismatch: 409,
};

/** The largest add-checkpoint body accepted: 63 proof lines and a checkpoint with a few dozen signatures. */
export const MAX_ADD_CHECKPOINT_BYTES = 64 * 1024;

export interface WitnessAppOptions {
  witness: Witness;
  limits?: HttpLimits;
  /** Requests in progress at most; more get 429 (default 1024). */
  maxPending?: number;
  log?: Logger;
}

export async function buildWitnessApp(opts: WitnessAppOptions): Promise<FastifyInstance> {
  const log = opts.log ?? silentLogger;
  const limits = opts.limits ?? UNLIMITED;
  const maxPending = opts.maxPending ?? 1024;
  const app: FastifyInstance = Fastify({
    loggerInstance: log as never,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_ADD_CHECKPOINT_BYTES,
    ...serverOptions(limits),
  }) as unknown as FastifyInstance;
  capConnections(app.server, limits, log);
  // The body is text in the spec's line format, whatever the client calls it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const text = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).header('Content-Type', 'text/plain; charset=utf-8').send(body);
  app.setErrorHandler((e: Error & { statusCode?: number }, _request, reply) => {
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 500) log.error({ err: e }, 'witness: request failed');
    return text(reply, status, status === 500 ? 'internal error\n' : `${e.message}\n`);
  });
  app.setNotFoundHandler((request, reply) => text(reply, 404, `no route ${request.method} ${request.url}\n`));

  let pending = 0;
  app.post('/add-checkpoint', async (request, reply) => {
    if (pending >= maxPending)
      return text(reply.header('Retry-After', '1'), 429, 'witness overloaded, retry\n');
    pending++;
    try {
      const body = typeof request.body === 'string' ? request.body : '';
      const result = await opts.witness.addCheckpoint(body);
      if (!(result instanceof WitnessRefusal))
        return reply.code(200).header('Content-Type', 'text/plain; charset=utf-8').send(result.cosignature);
      const status = WITNESS_STATUS[result.code];
      // 409 for a size the witness does not hold: the size it holds, in the spec's own type.
      if (result.code === 'size_mismatch')
        return reply.code(409).header('Content-Type', 'text/x.tlog.size').send(`${result.size}\n`);
      return text(reply, status, `${result.code}: ${result.message}\n`);
    } finally {
      pending--;
    }
  });

  app.get<{ Params: { hash: string } }>('/:hash/checkpoint', async (request, reply) => {
    if (!/^[0-9a-f]{64}$/.test(request.params.hash))
      return text(reply, 404, 'expected /<lower-case hex SHA-256 of the origin>/checkpoint\n');
    const note = await opts.witness.latest(request.params.hash);
    if (note === null) return text(reply, 404, 'no checkpoint cosigned for this log\n');
    return reply
      .header('Content-Type', 'text/plain; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .send(note);
  });

  app.get('/healthz', async () => ({ ok: true, role: 'witness', logs: opts.witness.origins }));
  return app;
}
