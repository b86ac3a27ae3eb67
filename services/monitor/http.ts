/**
 * The monitor's HTTP interface: `GET /gossip` (the checkpoints it saw, for
 * peer monitors without NATS: `{"notes": [...]}`), `GET /status` (the
 * largest checkpoint, the witness quorum and its freshness, alarms) and
 * `GET /healthz` (503 once an alarm was raised or the log went stale).
 * All public: any page may read them (CORS), as the web page's log view does.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Monitor } from './monitor.js';

export async function buildMonitorApp(monitor: Monitor): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }) as unknown as FastifyInstance;
  app.addHook('onSend', async (_request, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
  });
  app.get('/gossip', async (_request, reply) =>
    reply.header('Cache-Control', 'no-cache').send(monitor.gossip()),
  );
  app.get('/status', async () => monitor.status());
  app.get('/healthz', async (_request, reply) => {
    const s = monitor.status();
    const why = s.alarms.length ? 'split view' : s.quorum?.stale ? 'stale' : null;
    return reply
      .code(why ? 503 : 200)
      .send({ ok: why === null, role: 'monitor', ...(why ? { error: why } : {}) });
  });
  return app;
}
