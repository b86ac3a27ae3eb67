/**
 * A misbehaving log for tests: one key signs two trees and shows each to
 * different clients, as static tlog-tiles sources (a fetch each). The fork
 * either diverges from entry `at` on (a split view) or rewrites entry `at`
 * and recomputes everything after it (rewritten history); each tree can be
 * shown at any size.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TreeAppender } from '../../ledger/appender.js';
import { utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { MemoryHashStore, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { tilePath } from '../../ledger/tile.js';
import { LogReader } from '../../verifier/reader.js';

/** One tree of the log: its tiles at `size` as a fetch, and its signed checkpoint. */
export interface ShownTree {
  size: number;
  checkpoint: string;
  fetch: typeof fetch;
  reader: LogReader;
}

export function forkedLog(opts: { origin?: string; at: number; mode: 'split' | 'rewrite' }) {
  const origin = opts.origin ?? 'forked.example/log';
  const keys = generateSignerKey(origin);
  const signer = parseSignerKey(keys.signerKey);
  const entry = (i: number, forked: boolean) => {
    if (!forked) return utf8(`entry ${i}`);
    if (opts.mode === 'rewrite') return utf8(i === opts.at ? `entry ${i}, rewritten` : `entry ${i}`);
    return utf8(i >= opts.at ? `fork entry ${i}` : `entry ${i}`);
  };
  /** The tree (honest or forked) at `size`, served as static files under http://<name>.test/. */
  const show = (size: number, forked: boolean, name = forked ? 'fork' : 'log'): ShownTree => {
    const appender = new TreeAppender();
    const tree = new MemoryHashStore();
    for (let i = 0; i < size; i++) tree.append(appender.appendEntry(entry(i, forked)).leafHash);
    const files = new Map<string, Uint8Array>();
    for (const { tile, data } of appender.takeTiles()) files.set(tilePath(tile), data.slice());
    const checkpoint = signCheckpoint({ origin, size, root: treeHash(size, tree), extensions: [] }, signer);
    files.set('checkpoint', utf8(checkpoint));
    const fetchImpl = (async (input: RequestInfo | URL) => {
      const body = files.get(new URL(String(input)).pathname.slice(1));
      return body
        ? new Response(body as Uint8Array<ArrayBuffer>)
        : new Response('not found', { status: 404 });
    }) as typeof fetch;
    const reader = new LogReader(`http://${name}.test/`, {
      logKey: keys.verifierKey,
      http: { fetch: fetchImpl, maxRetries: 0 },
    });
    return { size, checkpoint, fetch: fetchImpl, reader };
  };
  return {
    origin,
    keys,
    honest: (size: number) => show(size, false),
    forked: (size: number) => show(size, true),
  };
}

/** Serves a shown tree's static files over loopback HTTP; resolves with its URL prefix and the server (to close). */
export async function serveTree(tree: ShownTree): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void tree.fetch(`http://tree.test${req.url}`).then(async (r) => {
      res.writeHead(r.status, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}
