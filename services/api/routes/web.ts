/**
 * The web page (services/web/build.ts) under /web/, with its config.json
 * made from this log's key and witness policy (the log is the page's
 * parent, `../`), and GET / leading a browser there. The page's files
 * change only with the software, so they are cached for a minute; the
 * config not at all.
 */
import type { FastifyPluginAsync } from 'fastify';
import { webConfig, webFiles } from '../../web/build.js';
import { HttpError } from '../errors.js';
import type { RouteOptions } from '../options.js';

export const webRoutes: FastifyPluginAsync<RouteOptions> = async (app, { web }) => {
  if (!web) return;
  const config = webConfig({ log: '../', ...web });
  app.get('/', async (request, reply) => {
    if (!(request.headers.accept ?? '').includes('text/html'))
      throw new HttpError(404, 'not_found', 'no route GET / (the web page is at /web/)');
    return reply.redirect('/web/', 302);
  });
  app.get('/web', async (_request, reply) => reply.redirect('/web/', 301));
  app.get('/web/*', async (request, reply) => {
    const name = (request.params as { '*': string })['*'] || 'index.html';
    if (name === 'config.json')
      return reply.header('Content-Type', config.type).header('Cache-Control', 'no-cache').send(config.body);
    const file = (await webFiles()).get(name); // built on the first request, not at start-up
    if (!file) throw new HttpError(404, 'not_found', `no file ${name} in /web/`);
    return reply
      .header('Content-Type', file.type)
      .header('Cache-Control', 'public, max-age=60')
      .header(
        'Content-Security-Policy',
        "default-src 'self'; connect-src *; object-src 'none'; base-uri 'none'",
      )
      .send(Buffer.from(file.body));
  });
};
