/**
 * The C2SP tlog-tiles read path: /checkpoint, /tile/<L>/<N>[.p/<W>],
 * /tile/entries/<N>[.p/<W>]. Tiles and bundles are immutable once they exist
 * at a width, so they are served with a year-long immutable cache header; the
 * checkpoint may be cached for a second.
 *
 * Entry bundles (JSON records, which compress several-fold) are served gzip
 * compressed to a client that accepts it (`Accept-Encoding`), with `Vary:
 * Accept-Encoding` on every bundle; being immutable, each is compressed once
 * and kept, within a byte budget, for the next client. Hash tiles are random
 * bytes and are served as they are.
 */
import type { FastifyPluginAsync } from 'fastify';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MalformedError } from '../../../ledger/errors.js';
import { ENTRIES_LEVEL, parseTilePath, tilePath, widthAtSize, type Tile } from '../../../ledger/tile.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const compress = promisify(gzip);

/** Whether an `Accept-Encoding` value accepts gzip (RFC 9110 §12.5.3: `gzip` or `*`, with a q-value above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star = false;
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (name.trim() === 'gzip') return accepted;
    if (name.trim() === '*') star = accepted;
  }
  return star;
}

/** Compressed entry bundles by tile path, oldest first, within `budget` bytes. */
type Gzipped = { gz: Promise<Buffer>; size?: number };

class GzipCache {
  /** By bundle path, oldest first; `size` once compressed (a pending one is not evicted). */
  readonly #bundles = new Map<string, Gzipped>();
  #bytes = 0;
  constructor(readonly budget: number) {}

  get(path: string, body: Uint8Array): Promise<Buffer> {
    const known = this.#bundles.get(path);
    if (known) return known.gz;
    const held: Gzipped = { gz: compress(body, { level: 6 }) };
    this.#bundles.set(path, held);
    held.gz.then(
      (gz) => {
        held.size = gz.length;
        this.#bytes += gz.length;
        for (const [old, { size }] of this.#bundles) {
          if (this.#bytes <= this.budget) break;
          if (size === undefined) continue;
          this.#bundles.delete(old);
          this.#bytes -= size;
        }
      },
      () => this.#bundles.delete(path),
    );
    return held.gz;
  }
}

export const readRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node, cosignatures }) => {
  const gzipped = new GzipCache(32 * 1024 * 1024);
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
    reply.header('Content-Type', 'application/octet-stream').header('Cache-Control', IMMUTABLE);
    if (tile.level !== ENTRIES_LEVEL) return reply.send(body);
    reply.header('Vary', 'Accept-Encoding');
    if (!acceptsGzip(request.headers['accept-encoding'])) return reply.send(body);
    return reply.header('Content-Encoding', 'gzip').send(await gzipped.get(tilePath(tile), body!));
  });
};
