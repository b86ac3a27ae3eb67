/** GET /healthz (liveness and the sequencer's state) and GET /metrics (Prometheus text format). */
import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app.js';

export const operationsRoutes: FastifyPluginAsync<AppOptions> = async (app, { sequencer, metrics }) => {
  app.get('/healthz', async (_request, reply) => {
    const fatal = sequencer.fatal;
    return reply.code(fatal ? 503 : 200).send({
      ok: !fatal,
      origin: sequencer.origin,
      size: sequencer.head.size,
      ...(sequencer.journal ? { journal: sequencer.journal } : {}),
      ...(fatal ? { error: fatal.message } : {}),
    });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.header('Content-Type', 'text/plain; version=0.0.4').send(metrics.render());
  });
};
