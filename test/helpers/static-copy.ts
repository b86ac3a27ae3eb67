/**
 * A static copy of a log's read path, as a CDN or an archive would hold it:
 * the checkpoint and every tile and entry bundle at the checkpoint's size,
 * downloaded into files at their tlog-tiles paths, and a plain file server
 * for them (404 for anything else). What `urna restore` must work from.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { entryBundlesForSize, tilePath, tilesForSize } from '../../ledger/tile.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { parseNote } from '../../ledger/note.js';

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

/** Serves the files under `dir` on a free loopback port. */
export async function serveDir(
  dir: string,
): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    if (path.startsWith('..')) return res.writeHead(400).end();
    readFile(join(dir, path)).then(
      (data) => res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(data),
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
