/**
 * A misbehaving log for tests: one key signs two trees and shows each to
 * different clients, as static tlog-tiles sources (a fetch each). The fork
 * either diverges from entry `at` on (a split view) or rewrites entry `at`
 * and recomputes everything after it (rewritten history); each tree can be
 * shown at any size.
 */
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
