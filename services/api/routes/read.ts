/**
 * The C2SP tlog-tiles read path: /checkpoint, /tile/<L>/<N>[.p/<W>],
 * /tile/entries/<N>[.p/<W>]. Tiles and bundles are immutable once they exist
 * at a width, so they are served with a year-long immutable cache header; the
 * checkpoint may be cached for a second.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MalformedError } from '../../../ledger/errors.js';
import { parseTilePath, widthAtSize, type Tile } from '../../../ledger/tile.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

export const readRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node, cosignatures }) => {
  app.get('/checkpoint', async (_request, reply) => {
    if (node.head.checkpoint === '')
      throw new HttpError(503, 'unavailable', 'no signed checkpoint proven yet (catching up)');
    // The latest checkpoint, with the witnesses' cosignatures collected for it so far.
    const cosigned = cosignatures?.newest();
    return reply
      .header('Content-Type', 'text/plain; charset=utf-8')
      .header('Cache-Control', 'public, max-age=1')
      .send(cosigned && cosigned.size === node.head.size ? cosigned.note : node.head.checkpoint);
  });

  app.get('/tile/*', async (request, reply) => {
    let tile: Tile;
    try {
      tile = parseTilePath(request.url.slice(1).split('?')[0]!);
    } catch (e) {
      if (e instanceof MalformedError) throw new HttpError(400, 'malformed', `bad tile path: ${e.message}`);
      throw e;
    }
    if (tile.width > widthAtSize(tile.level, tile.index, node.head.size)) {
      throw new HttpError(404, 'not_found', 'tile not in the tree (yet)');
    }
    // Authenticated against the signed head: corrupt storage is refused (500 storage_corrupt), never served.
    const [body] = await node.tiles.fetchVerified([tile], node.head);
    return reply
      .header('Content-Type', 'application/octet-stream')
      .header('Cache-Control', IMMUTABLE)
      .send(body);
  });
};
