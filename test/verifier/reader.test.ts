/**
 * LogReader against a tlog-tiles source in process (a scripted fetch over a
 * built log): entries, ranges and proofs come out authenticated and equal
 * to the truth; a source that lies — a flipped byte, a truncated tile,
 * another key's checkpoint, a tile of another tree — is refused with the
 * tile named; a flaky one (errors, then answers) is retried; a partial tile
 * that is gone is read from the full one.
 */
import { describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { equalBytes, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { MemoryHashStore, proveConsistency, proveInclusion, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { TileAuthError } from '../../ledger/tile-auth.js';
import { parseTilePath, tilePath, type Tile } from '../../ledger/tile.js';
import { LogReader } from '../../verifier/reader.js';

/** A log of `n` entries as a static tlog-tiles source would hold it: files by path, and a signed checkpoint. */
function staticLog(n: number, origin = 'reader.example/log', tag = '') {
  const { signerKey, verifierKey } = generateSignerKey(origin);
  const appender = new TreeAppender();
  const store = new MemoryHashStore();
  const files = new Map<string, Uint8Array>();
  const entries: Uint8Array[] = [];
  const keep = () => {
    for (const { tile, data } of appender.takeTiles()) {
      files.set(tilePath(tile), data.slice());
    }
  };
  for (let i = 0; i < n; i++) {
    const e = utf8(`entry ${i} of ${origin}${tag}`);
    entries.push(e);
    store.append(appender.appendEntry(e).leafHash);
    if (i % 500 === 499) keep();
  }
  keep();
  const checkpoint = signCheckpoint(
    { origin, size: n, root: treeHash(n, store), extensions: [] },
    parseSignerKey(signerKey),
  );
  files.set('checkpoint', utf8(checkpoint));
  return { verifierKey, signerKey, files, entries, store, size: n };
}

/** A fetch serving `files` under http://src.test/, through `lie` (which may change or drop an answer). */
function source(
  files: Map<string, Uint8Array>,
  lie: (path: string, body: Uint8Array) => Uint8Array | Response | null = (_p, b) => b,
) {
  const asked: string[] = [];
  const fetchImpl = async (input: RequestInfo | URL): Promise<Response> => {
    const path = new URL(String(input)).pathname.slice(1);
    asked.push(path);
    let body = files.get(path);
    // A log keeps only the widest data of a tile: a partial path is served from it as a prefix.
    if (!body && path.startsWith('tile/')) {
      const t = parseTilePath(path);
      const full = [...files.keys()].find((k) => k.startsWith('tile/') && sameTile(parseTilePath(k), t));
      if (full) {
        const data = files.get(full)!;
        const tile = parseTilePath(full);
        if (tile.width >= t.width)
          body = t.level < 0 ? data /* the reader takes the prefix */ : data.subarray(0, t.width * 32);
      }
    }
    if (!body) return new Response('not found', { status: 404 });
    const out = lie(path, body);
    if (out instanceof Response) return out;
    if (out === null) throw new TypeError('fetch failed');
    return new Response(out as Uint8Array<ArrayBuffer>);
  };
  return { fetch: fetchImpl as typeof fetch, asked };
}

function sameTile(a: Tile, b: Tile): boolean {
  return a.level === b.level && a.index === b.index;
}

function reader(log: ReturnType<typeof staticLog>, src: ReturnType<typeof source>) {
  return new LogReader('http://src.test/', {
    logKey: log.verifierKey,
    http: { fetch: src.fetch, sleep: async () => {}, maxRetries: 3 },
  });
}

describe('LogReader', () => {
  const log = staticLog(70_000 + 37);

  it('reads every entry of a range, authenticated, and proofs equal to the truth', async () => {
    const r = reader(log, source(log.files));
    const { head } = await r.checkpoint();
    expect(head.size).toBe(log.size);
    const got: number[] = [];
    for await (const { index, entry } of r.entries(65_500, 66_100)) {
      expect(equalBytes(entry, log.entries[index]!)).toBe(true);
      got.push(index);
    }
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => 65_500 + i));
    for (const [i, n] of [
      [0, 1],
      [12_345, 70_000],
      [70_036, log.size],
    ] as const)
      expect(await r.inclusionProof(i, n)).toEqual(proveInclusion(i, n, log.store));
    expect(await r.consistencyProof(300, 69_999)).toEqual(proveConsistency(300, 69_999, log.store));
    expect(equalBytes(await r.entry(log.size - 1), log.entries.at(-1)!)).toBe(true);
  });

  it('keeps its authenticated tiles within cacheBytes: a bundle let go is fetched again', async () => {
    const bundleAsked = async (cacheBytes?: number) => {
      const src = source(log.files);
      const r = new LogReader('http://src.test/', {
        logKey: log.verifierKey,
        http: { fetch: src.fetch, sleep: async () => {} },
        ...(cacheBytes === undefined ? {} : { cacheBytes }),
      });
      for (const index of [0, 256, 512, 768, 1024, 1]) await r.entry(index);
      return src.asked.filter((p) => p === 'tile/entries/000').length;
    };
    expect(await bundleAsked()).toBe(1); // the default 32 MiB holds it
    expect(await bundleAsked(3 * 8192)).toBe(2); // a few tiles' worth does not
  });

  it('refuses a checkpoint signed by another key', async () => {
    const other = staticLog(10, 'reader.example/log');
    const files = new Map(log.files);
    files.set('checkpoint', other.files.get('checkpoint')!);
    await expect(reader(log, source(files)).checkpoint()).rejects.toThrow(/signature/);
  });

  it('names the tile when a source flips a byte, truncates a tile, or serves another tree', async () => {
    const cases: Array<[string, (p: string, b: Uint8Array) => Uint8Array | Response | null]> = [
      ['flipped', (p, b) => (p === 'tile/entries/257' ? flip(b, 100) : b)],
      ['truncated', (p, b) => (p === 'tile/entries/257' ? b.subarray(0, 4000) : b)],
      ['a parent (an edge tile) flipped', (p, b) => (p === 'tile/1/001.p/17' ? flip(b, 33) : b)],
    ];
    for (const [name, lie] of cases) {
      const r = reader(log, source(log.files, lie));
      const err = await (async () => {
        for await (const _ of r.entries(257 * 256, 257 * 256 + 10)) void _;
      })().catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(TileAuthError);
    }
    const other = staticLog(70_000 + 37, 'reader.example/log', ' (another tree)');
    const mixed = new Map(log.files);
    mixed.set('tile/entries/003', other.files.get('tile/entries/003')!);
    const err = await reader(log, source(mixed))
      .entry(3 * 256 + 1)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TileAuthError);
    expect((err as TileAuthError).message).toMatch(/tile\/entries\/003 /);
  });

  it('retries a flaky source, and reads a partial tile that is gone from the full one', async () => {
    let failures = 0;
    const flaky = source(log.files, (_p, b) =>
      failures++ % 3 === 0 ? new Response('busy', { status: 503 }) : b,
    );
    const r = reader(log, flaky);
    expect(equalBytes(await r.entry(42), log.entries[42]!)).toBe(true);
    // A tree that grew: at an older checkpoint (300), the partial bundle and level-0 tile a reader asks
    // for are gone (a log may drop them once the full ones exist, C2SP#145): the full ones are read.
    const big = staticLog(600);
    const head = { size: 300, root: treeHash(300, big.store) };
    const gone = new Set(['tile/entries/001.p/44', 'tile/0/001.p/44']);
    const src = source(big.files, (p, b) => (gone.has(p) ? new Response('gone', { status: 404 }) : b));
    const r2 = new LogReader('http://src.test/', { logKey: big.verifierKey, http: { fetch: src.fetch } });
    expect(equalBytes(await r2.entry(299, head), big.entries[299]!)).toBe(true);
    expect(src.asked).toEqual(expect.arrayContaining([...gone, 'tile/entries/001', 'tile/0/001']));
  });
});

function flip(b: Uint8Array, at: number): Uint8Array {
  const c = b.slice();
  c[at]! ^= 1;
  return c;
}
