/**
 * A static copy of a log's read path, as a CDN or an archive would hold it:
 * the checkpoint and every tile and entry bundle at the checkpoint's size,
 * downloaded into files at their tlog-tiles paths, and a plain file server
 * for them (404 for anything else). What `urna restore` must work from.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { parseCheckpoint, signCheckpoint } from '../../ledger/checkpoint.js';
import { leafHash } from '../../ledger/hash.js';
import { MemoryHashStore, storedHashIndex, treeHash } from '../../ledger/merkle.js';
import { parseNote, parseSignerKey } from '../../ledger/note.js';
import {
  ENTRIES_LEVEL,
  entryBundlesForSize,
  formatEntryBundle,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  tilePath,
  tilesForSize,
} from '../../ledger/tile.js';

/** Downloads `url`'s checkpoint, tiles and bundles into `dir`; returns the checkpoint note. */
export async function copyTiles(url: string, dir: string): Promise<string> {
  const note = await (await fetch(`${url}/checkpoint`)).text();
  const { size } = parseCheckpoint(parseNote(note).text);
  const tiles = [...tilesForSize(size), ...entryBundlesForSize(size)];
  for (let i = 0; i < tiles.length; i += 32) {
    await Promise.all(
      tiles.slice(i, i + 32).map(async (t) => {
        const res = await fetch(`${url}/${tilePath(t)}`);
        if (res.status !== 200) throw new Error(`${tilePath(t)}: HTTP ${res.status}`);
        const file = join(dir, tilePath(t));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, new Uint8Array(await res.arrayBuffer()));
      }),
    );
  }
  await writeFile(join(dir, 'checkpoint'), note);
  return note;
}

/** The media type a static host gives a file by its extension (tiles have none). */
function mediaType(path: string): string {
  const types: { [ext: string]: string } = {
    html: 'text/html; charset=utf-8',
    js: 'text/javascript; charset=utf-8',
    css: 'text/css; charset=utf-8',
    json: 'application/json',
  };
  return types[path.split('.').pop() ?? ''] ?? 'application/octet-stream';
}

/** Serves the files under `dir` on a free loopback port (`/d/` serves `d/index.html`). */
export async function serveDir(
  dir: string,
): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    if (path === '' || path.endsWith('/')) path += 'index.html';
    if (path.startsWith('..')) return res.writeHead(400).end();
    readFile(join(dir, path)).then(
      (data) => res.writeHead(200, { 'Content-Type': mediaType(path) }).end(data),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Serves the tlog-tiles read path (checkpoint, hash tiles, entry bundles)
 * of a log holding `entries`, built in memory and signed with `signerKey`
 * (whose name is the origin): what a static copy of such a log serves,
 * without running one. Partial tiles are served at every width up to the
 * size. `requests` counts the requests answered. `also(path)` answers any
 * other path (without its leading slash) with a file, or null for a 404:
 * what a mirror serves beside the tiles (its index of ballots, the page).
 */
export async function serveEntries(
  entries: readonly Uint8Array[],
  signerKey: string,
  also: (path: string) => { type: string; body: Uint8Array | string } | null = () => null,
): Promise<{ url: string; close(): Promise<void>; requests(): number }> {
  const tree = new MemoryHashStore();
  for (const e of entries) tree.append(leafHash(e));
  const signer = parseSignerKey(signerKey);
  const size = entries.length;
  const note = signCheckpoint(
    { origin: signer.name, size, root: treeHash(size, tree), extensions: [] },
    signer,
  );
  let requests = 0;
  const body = (path: string): Uint8Array | string | null => {
    if (path === 'checkpoint') return note;
    let tile;
    try {
      tile = parseTilePath(path);
    } catch {
      return null;
    }
    const first = tile.index * TILE_WIDTH;
    if (tile.level === ENTRIES_LEVEL)
      return first + tile.width <= size ? formatEntryBundle(entries.slice(first, first + tile.width)) : null;
    const level = TILE_HEIGHT * tile.level;
    if ((first + tile.width) * 2 ** level > size) return null;
    const hashes = tree.readHashes(
      Array.from({ length: tile.width }, (_, i) => storedHashIndex(level, first + i)),
    );
    const out = new Uint8Array(32 * hashes.length);
    hashes.forEach((h, i) => out.set(h, 32 * i));
    return out;
  };
  const server = createServer((req, res) => {
    requests++;
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
    const data = body(path);
    const cors = { 'Access-Control-Allow-Origin': '*' }; // as a public CDN serves a log's tiles
    if (data !== null)
      return res.writeHead(200, { ...cors, 'Content-Type': 'application/octet-stream' }).end(data);
    const file = also(path);
    if (file === null) return res.writeHead(404, cors).end('not found');
    res.writeHead(200, { ...cors, 'Content-Type': file.type }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
