// verifier/client.ts against a scripted fetch: bounded retries on pushback
// (Retry-After) and network failures, typed errors with the log's code and
// status, the leaf-hash check, receipt verification with the log key,
// submitMany's order, concurrency bound and first-failure semantics.
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { leafHash } from '../../ledger/hash.js';
import { MemoryHashStore, proveInclusion, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { formatReceipt } from '../../ledger/receipt.js';
import { formatEntryBundle } from '../../ledger/tile.js';
import { LogClient, LogError, type LogClientOptions } from '../../verifier/client.js';

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A client whose fetch runs `handler`, recording each request and each wait. */
function client(handler: Handler, opts: LogClientOptions = {}) {
  const calls: string[] = [];
  const waits: number[] = [];
  const c = new LogClient('http://log.test/base', {
    fetch: async (input, init) => {
      calls.push(`${init?.method ?? 'GET'} ${String(input)}`);
      return handler(String(input), init);
    },
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...opts,
  });
  return { c, calls, waits };
}

/** A log of `entries` with a key: answers POST /add with a real receipt. */
function fakeLog(origin = 'log.test/log') {
  const { signerKey, verifierKey } = generateSignerKey(origin);
  const signer = parseSignerKey(signerKey);
  const tree = new MemoryHashStore();
  const indexOf = new Map<string, number>();
  const add = (entry: Uint8Array) => {
    const hex = toHex(leafHash(entry));
    const known = indexOf.get(hex);
    const index = known ?? tree.append(leafHash(entry));
    indexOf.set(hex, index);
    const size = tree.size;
    const checkpoint = signCheckpoint({ origin, size, root: treeHash(size, tree), extensions: [] }, signer);
    const receipt = formatReceipt({ index, proof: proveInclusion(index, size, tree), checkpoint });
    return { index, leafHash: hex, receipt, duplicate: known !== undefined, checkpoint };
  };
  return { verifierKey, add };
}

const entry = (i: number) => utf8(`{"entry":${i}}`);

describe('LogClient.submit', () => {
  it('posts the exact bytes as application/json and returns the answer', async () => {
    const log = fakeLog();
    let body: Uint8Array | undefined;
    const { c, calls } = client(async (_url, init) => {
      body = new Uint8Array(await new Response(init!.body).arrayBuffer());
      expect(new Headers(init!.headers).get('Content-Type')).toBe('application/json');
      const { checkpoint: _c, ...answer } = log.add(body);
      return json(201, answer);
    });
    const r = await c.submit(entry(1));
    expect(body).toEqual(entry(1));
    expect(calls).toEqual(['POST http://log.test/base/add']);
    expect(r).toMatchObject({ index: 0, duplicate: false, leafHash: toHex(leafHash(entry(1))) });
  });

  it('retries pushback after Retry-After, a bounded number of times', async () => {
    const log = fakeLog();
    let n = 0;
    const { c, waits } = client((_url, init) => {
      if (n++ < 2) return json(503, { error: { code: 'pushback', message: 'busy' } }, { 'Retry-After': '2' });
      const { checkpoint: _c, ...answer } = log.add(init!.body as Uint8Array);
      return json(201, answer);
    });
    expect((await c.submit(entry(1))).index).toBe(0);
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(2000);
    for (const w of waits) expect(w).toBeLessThanOrEqual(2500);

    const busy = client(
      () => json(503, { error: { code: 'pushback', message: 'busy' } }, { 'Retry-After': '1' }),
      {
        maxRetries: 3,
      },
    );
    const e = await busy.c.submit(entry(2)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LogError);
    expect(e).toMatchObject({ code: 'pushback', status: 503 });
    expect(busy.calls).toHaveLength(4);
    expect(busy.waits).toHaveLength(3);
  });

  it("follows a standby's not_leader to the leader, keeps submitting there, and stops hopping after 3", async () => {
    const log = fakeLog();
    const notLeader = (leader: string) =>
      json(
        503,
        { error: { code: 'not_leader', message: 'standby', leader } },
        { 'Retry-After': '1', 'Urna-Leader': leader },
      );
    const { c, calls, waits } = client((url, init) => {
      if (url.startsWith('http://log.test/')) return notLeader('http://leader.test:8080');
      const { checkpoint: _c, ...answer } = log.add(init!.body as Uint8Array);
      return json(201, answer);
    });
    expect((await c.submit(entry(1))).index).toBe(0);
    expect((await c.submit(entry(2))).index).toBe(1);
    expect(calls).toEqual([
      'POST http://log.test/base/add',
      'POST http://leader.test:8080/add',
      'POST http://leader.test:8080/add',
    ]);
    expect(waits).toEqual([]); // no wait for a redirect
    // Reads stay on the log's own URL.
    expect(c.url('checkpoint')).toBe('http://log.test/base/checkpoint');

    // Standbys pointing at each other: 3 hops, then the ordinary bounded retries on 503.
    let hop = 0;
    const loop = client(() => notLeader(`http://s${hop++ % 2}.test`), { maxRetries: 2 });
    await expect(loop.c.submit(entry(3))).rejects.toMatchObject({ status: 503 });
    expect(loop.calls.length).toBe(3 + 3);
    // A leader that is not an http(s) URL is not followed.
    const odd = client(() => notLeader('file:///etc/passwd'), { maxRetries: 1 });
    await expect(odd.c.submit(entry(4))).rejects.toMatchObject({ code: 'pushback', status: 503 });
    expect(odd.calls.every((x) => x.startsWith('POST http://log.test/'))).toBe(true);
  });

  it('caps the wait at maxDelayMs and backs off exponentially without Retry-After', async () => {
    const { c, waits } = client(() => new Response('', { status: 429 }), { maxRetries: 4, maxDelayMs: 300 });
    await expect(c.submit(entry(1))).rejects.toMatchObject({ code: 'pushback', status: 429 });
    expect(waits.map((w) => Math.floor(w / 100) * 100)).toEqual([100, 200, 300, 300]);
  });

  it('retries network failures, then gives up with code network and status 0', async () => {
    const { c, calls } = client(() => Promise.reject(new TypeError('fetch failed')), { maxRetries: 2 });
    await expect(c.submit(entry(1))).rejects.toMatchObject({ code: 'network', status: 0 });
    expect(calls).toHaveLength(3);
  });

  it('repeats a request the server timed out (408, RFC 9110 §15.5.9), a bounded number of times', async () => {
    const log = fakeLog();
    let n = 0;
    const timedOut = () =>
      json(408, { error: { code: 'timeout', message: 'the request did not arrive in time' } });
    const { c, calls } = client(
      (_url, init) => (n++ < 2 ? timedOut() : json(201, log.add(init!.body as Uint8Array))),
      { logKey: log.verifierKey },
    );
    expect((await c.submit(entry(1))).index).toBe(0);
    expect(calls).toHaveLength(3);
    const always = client(timedOut, { maxRetries: 2 });
    await expect(always.c.submit(entry(1))).rejects.toMatchObject({ code: 'timeout', status: 408 });
    expect(always.calls).toHaveLength(3);
  });

  it("throws the log's error code, status and message at once for other errors", async () => {
    const { c, calls } = client(() =>
      json(422, { error: { code: 'over_electorate', message: 'too many votes' } }),
    );
    const e = (await c.submit(entry(1)).catch((x: unknown) => x)) as LogError;
    expect(e).toBeInstanceOf(LogError);
    expect(e).toMatchObject({ code: 'over_electorate', status: 422 });
    expect(e.message).toMatch(/too many votes/);
    expect(calls).toHaveLength(1);
    const plain = client(() => new Response('<html>bad gateway</html>', { status: 502 }));
    await expect(plain.c.submit(entry(1))).rejects.toMatchObject({ code: 'http_502', status: 502 });
  });

  it("refuses an answer whose leaf hash is not the record's", async () => {
    const log = fakeLog();
    const { c } = client(() => {
      const { checkpoint: _c, ...answer } = log.add(entry(9));
      return json(201, answer);
    });
    await expect(c.submit(entry(1))).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('verifies the receipt with the log key: accepts a good one, refuses a forged or foreign one', async () => {
    const log = fakeLog();
    const good = client(
      (_url, init) => json(201, { ...log.add(init!.body as Uint8Array), checkpoint: undefined }),
      {
        logKey: log.verifierKey,
      },
    );
    await good.c.submit(entry(1));
    await good.c.submit(entry(2));

    // A receipt for another index (the proof then fails), and one signed by another log.
    const lying = client(
      (_url, init) => {
        const a = log.add(init!.body as Uint8Array);
        return json(201, { ...a, index: a.index + 1, checkpoint: undefined });
      },
      { logKey: log.verifierKey },
    );
    await expect(lying.c.submit(entry(3))).rejects.toMatchObject({ code: 'bad_receipt' });
    const other = fakeLog();
    const foreign = client(
      (_url, init) => json(201, { ...other.add(init!.body as Uint8Array), checkpoint: undefined }),
      {
        logKey: log.verifierKey,
      },
    );
    await expect(foreign.c.submit(entry(4))).rejects.toMatchObject({ code: 'bad_receipt' });
  });
});

describe('LogClient.submitMany', () => {
  it('returns results in order with at most `concurrency` requests in flight, drawing lazily', async () => {
    const log = fakeLog();
    let inFlight = 0;
    let peak = 0;
    const { c } = client(async (_url, init) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      inFlight--;
      const { checkpoint: _c, ...answer } = log.add(init!.body as Uint8Array);
      return json(201, answer);
    });
    let drawn = 0;
    function* records() {
      for (let i = 0; i < 50; i++) {
        drawn++;
        yield entry(i);
      }
    }
    const progress: number[] = [];
    const results = await c.submitMany(records(), 4, { onProgress: (done) => progress.push(done) });
    expect(drawn).toBe(50);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    expect(results.map((r) => r.leafHash)).toEqual(
      Array.from({ length: 50 }, (_, i) => toHex(leafHash(entry(i)))),
    );
    expect(progress.at(-1)).toBe(50);
  });

  it('stops at the first failure and throws it with the record position', async () => {
    const log = fakeLog();
    let calls = 0;
    const { c } = client((_url, init) => {
      calls++;
      const body = init!.body as Uint8Array;
      if (toHex(body) === toHex(entry(5)))
        return json(409, { error: { code: 'wrong_phase', message: 'voting is not open' } });
      const { checkpoint: _c, ...answer } = log.add(body);
      return json(201, answer);
    });
    const records = Array.from({ length: 100 }, (_, i) => entry(i));
    const e = (await c.submitMany(records, 2).catch((x: unknown) => x)) as LogError;
    expect(e).toMatchObject({ code: 'wrong_phase', status: 409 });
    expect(e.message).toMatch(/^record 5: /);
    expect(calls).toBeLessThan(10);
  });
});

describe('LogClient reads', () => {
  it('reads and verifies the checkpoint, and fetches the projections under the base path', async () => {
    const log = fakeLog();
    const { checkpoint } = log.add(entry(1));
    const { c, calls } = client(
      (url) => {
        if (url.endsWith('/checkpoint')) return new Response(checkpoint);
        if (url.includes('/elections/')) return json(200, { id: 'e1', phase: 'open' });
        if (url.includes('/ballots/'))
          return json(404, { error: { code: 'not_found', message: 'no such ballot' } });
        return json(200, { index: 7, leafHash: 'ab', record: { type: 'phase' } });
      },
      { logKey: log.verifierKey },
    );
    const cp = await c.checkpoint();
    expect(cp.checkpoint.size).toBe(1);
    expect(cp.note).toBe(checkpoint);
    expect(await c.election('e1')).toEqual({ id: 'e1', phase: 'open' });
    await expect(c.ballot('ab'.repeat(32))).rejects.toMatchObject({ code: 'not_found', status: 404 });
    expect(await c.record(7)).toEqual({ index: 7, leafHash: 'ab', record: { type: 'phase' } });
    expect(calls).toEqual([
      'GET http://log.test/base/checkpoint',
      'GET http://log.test/base/elections/e1',
      `GET http://log.test/base/ballots/${'ab'.repeat(32)}`,
      'GET http://log.test/base/records/7',
    ]);
    // A checkpoint signed by another log does not verify.
    const other = fakeLog();
    const wrong = client(() => new Response(other.add(entry(1)).checkpoint), { logKey: log.verifierKey });
    await expect(wrong.c.checkpoint()).rejects.toThrow();
  });
});

describe('LogClient.tile', () => {
  const bundle = formatEntryBundle([utf8('a'), utf8('bb'), utf8('ccc')]);
  const full = formatEntryBundle(Array.from({ length: 256 }, (_, i) => utf8(`e${i}`)));

  it('reads a tile at its width, and a partial one that is gone from the full one (C2SP#145)', async () => {
    const { c, calls } = client((url) =>
      url.endsWith('/tile/entries/000.p/3')
        ? new Response(null, { status: 404 })
        : url.endsWith('/tile/entries/000')
          ? new Response(full as Uint8Array<ArrayBuffer>)
          : url.endsWith('/tile/0/001.p/2')
            ? new Response(new Uint8Array(64).fill(7))
            : new Response(null, { status: 404 }),
    );
    expect(await c.tile({ level: -1, index: 0, width: 3 })).toEqual(
      formatEntryBundle([utf8('e0'), utf8('e1'), utf8('e2')]),
    );
    expect(calls).toEqual([
      'GET http://log.test/base/tile/entries/000.p/3',
      'GET http://log.test/base/tile/entries/000',
    ]);
    expect(await c.tile({ level: 0, index: 1, width: 2 })).toEqual(new Uint8Array(64).fill(7));
  });

  it('says so when neither the partial nor a long enough full tile is there', async () => {
    const { c } = client((url) =>
      url.endsWith('/tile/entries/000')
        ? new Response(bundle as Uint8Array<ArrayBuffer>)
        : new Response(null, { status: 404 }),
    );
    await expect(c.tile({ level: -1, index: 0, width: 5 })).rejects.toMatchObject({ code: 'bad_response' });
    await expect(c.tile({ level: -1, index: 1, width: 5 })).rejects.toMatchObject({ status: 404 });
  });
});
