/** GET /healthz (liveness, role and replication state) and GET /metrics (Prometheus text format). */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteOptions } from '../options.js';

export const operationsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node, metrics }) => {
  app.get('/healthz', async (_request, reply) => {
    const status = node.status();
    return reply.code(status.ok ? 200 : 503).send({ origin: node.origin, size: node.head.size, ...status });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.header('Content-Type', 'text/plain; version=0.0.4').send(metrics.render());
  });
};
