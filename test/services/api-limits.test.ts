/**
 * The HTTP API's limits and its one error shape: per-client rate budgets
 * (429 with Retry-After; writes, proofs and reads apart; clients apart),
 * the global budget of proofs at old sizes (503 busy), 503 while shutting
 * down, and — over real sockets — the parser's refusals (400, 408, 431) in
 * the documented JSON, time limits on slow requests, and the per-client
 * connection cap.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type UrnaApp } from '../../services/api/app.js';
import { UNLIMITED, type HttpLimits } from '../../services/api/limits.js';
import { entries, openTestLog, submitAndTick } from '../helpers/log.js';

let app: UrnaApp | null = null;
afterEach(async () => {
  app?.server.closeAllConnections();
  await app?.close();
  app = null;
});

async function setup(limits: Partial<HttpLimits>, n = 10) {
  const log = await openTestLog();
  if (n) await submitAndTick(log, entries(n));
  app = await buildApp({
    node: log.sequencer,
    store: log.store,
    metrics: log.metrics,
    limits: { ...UNLIMITED, ...limits },
  });
  return { log, app };
}

const ERROR_SHAPE = { error: { code: expect.any(String), message: expect.any(String) } };

describe('rate limits', () => {
  it('answer 429 with Retry-After in the error shape, per client and per budget', async () => {
    const { app } = await setup({ rate: { writes: 0, rejected: 0, proofs: 3, reads: 5 } });
    const proof = (ip: string) => app.inject({ url: '/proof/inclusion?index=1&size=10', remoteAddress: ip });
    // Five at once: three fit the budget; the other two are answered 429 when the window ends.
    const five = await Promise.all(Array.from({ length: 5 }, () => proof('10.0.0.1')));
    expect(five.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 429, 429]);
    const limited = five.find((r) => r.statusCode === 429)!;
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/proof/) },
    });
    // Another client has its own budget; the same client's reads have theirs.
    expect((await proof('10.0.0.2')).statusCode).toBe(200);
    expect((await app.inject({ url: '/checkpoint', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    // Operations are never limited.
    for (let i = 0; i < 10; i++)
      expect((await app.inject({ url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
  });

  it('limit submissions apart from reads', async () => {
    const { app } = await setup({ rate: { writes: 2, rejected: 0, proofs: 0, reads: 0 } });
    const add = (body: string) =>
      app.inject({
        method: 'POST',
        url: '/add',
        payload: body,
        headers: { 'content-type': 'application/octet-stream' },
        remoteAddress: '10.0.0.9',
      });
    // Already in the log: answered at once (duplicates), and counted.
    expect((await add('entry-0')).statusCode).toBe(200);
    expect((await add('entry-1')).statusCode).toBe(200);
    const third = await add('entry-2');
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await app.inject({ url: '/checkpoint', remoteAddress: '10.0.0.9' })).statusCode).toBe(200);
  });

  it("stop a client's submissions once it has had its budget of refusals, not another client's", async () => {
    const { app } = await setup({ rate: { writes: 0, rejected: 3, proofs: 0, reads: 0 } });
    const add = (body: string, ip: string, type = 'application/octet-stream') =>
      app.inject({
        method: 'POST',
        url: '/add',
        payload: body,
        headers: { 'content-type': type },
        remoteAddress: ip,
      });
    for (let i = 0; i < 3; i++) expect((await add(`x${i}`, '10.2.0.1', 'text/plain')).statusCode).toBe(415);
    // Its budget of refusals is used: even a good submission is refused now, for the rest of the window.
    const refused = await add('entry-0', '10.2.0.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({
      error: { code: 'rate_limited', message: expect.stringMatching(/refused/) },
    });
    expect((await add('entry-1', '10.2.0.2')).statusCode).toBe(200); // another client: a duplicate, answered
  });

  it('bound proofs at older tree sizes over all clients: 503 busy with Retry-After', async () => {
    const { app } = await setup({ oldSizeProofsPerSecond: 2 });
    const old = (i: number) =>
      app.inject({ url: `/proof/inclusion?index=0&size=${2 + i}`, remoteAddress: `10.1.0.${i}` });
    const answers = [await old(1), await old(2), await old(3)];
    // Proofs at the latest size are not counted against it.
    const latest = await app.inject({ url: '/proof/inclusion?index=0&size=10' });
    const codes = answers.map((r) => r.statusCode);
    // Two fit in one second; a third in the same second is refused (unless the second turned in between).
    expect(codes.slice(0, 2)).toEqual([200, 200]);
    if (codes[2] === 503) {
      expect(answers[2]!.headers['retry-after']).toBe('1');
      expect(answers[2]!.json()).toMatchObject({ error: { code: 'busy' } });
    }
    expect(latest.statusCode).toBe(200);
  });
});

describe('the error shape', () => {
  it('is kept for a malformed URL, a path segment too long, and while shutting down (503 with Retry-After)', async () => {
    const { app } = await setup({});
    const bad = await app.inject({ url: '/%zz' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject(ERROR_SHAPE);
    const long = await app.inject({ url: `/ballots/${'a'.repeat(150)}` });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ error: { code: 'uri_too_long' } });
    app.closing = true;
    const closing = await app.inject({ url: '/checkpoint' });
    expect(closing.statusCode).toBe(503);
    expect(closing.headers['retry-after']).toBeDefined();
    expect(closing.json()).toMatchObject({ error: { code: 'shutting_down' } });
  });
});

/** Opens a socket from `localAddress` and sends `data`; resolves with everything received until the server closes it. */
function exchange(
  port: number,
  data: string,
  localAddress = '127.0.0.1',
): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(data));
    let text = '';
    socket.on('data', (c) => (text += c.toString()));
    socket.on('close', () => resolve({ text, ms: performance.now() - t0 }));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

function jsonBody(text: string): unknown {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

describe('over real sockets', () => {
  async function listening(limits: Partial<HttpLimits>) {
    const { app } = await setup({ ...limits });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as { port: number }).port;
  }

  it('answers what the HTTP parser refuses in the JSON shape (400, 431)', async () => {
    const port = await listening({});
    const garbage = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(jsonBody(garbage.text)).toMatchObject({ error: { code: 'bad_request' } });
    const huge = await exchange(
      port,
      `GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(huge.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(jsonBody(huge.text)).toMatchObject({ error: { code: 'headers_too_large' } });
  });

  it('cuts off a request whose body never finishes (408 in the JSON shape)', async () => {
    const port = await listening({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
    const half = await exchange(
      port,
      'POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nabc',
    );
    expect(half.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(jsonBody(half.text)).toMatchObject({ error: { code: 'timeout' } });
    expect(half.ms).toBeLessThan(10_000);
  });

  it('caps the connections of one client address, not of the others', async () => {
    const port = await listening({ maxConnectionsPerClient: 3 });
    const open: Socket[] = [];
    const openFrom = (localAddress: string) =>
      new Promise<Socket>((resolve) => {
        const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
        open.push(s);
      });
    try {
      for (let i = 0; i < 3; i++) await openFrom('127.0.0.2');
      const fourth = await openFrom('127.0.0.2');
      const closed = await new Promise<boolean>((resolve) => {
        fourth.once('close', () => resolve(true));
        fourth.write('GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n');
        setTimeout(() => resolve(false), 2000).unref();
      });
      expect(closed).toBe(true);
      const other = await exchange(
        port,
        'GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        '127.0.0.3',
      );
      expect(other.text).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of open) s.destroy();
    }
  });
});
