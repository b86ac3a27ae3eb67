/**
 * Limits that hold under abuse: time limits on every request, caps on
 * connections (in all and per client address), per-client rate limits with
 * separate budgets for writes, proofs and other reads (429 with
 * Retry-After), and a cost bound on proofs computed on demand.
 *
 * The point of each: a client that sends headers and never finishes its
 * body is cut off (requestTimeout) instead of holding a file descriptor for
 * ever; one address cannot take every connection; one client's flood of
 * rejected records or of proofs for random tree sizes uses its own budget,
 * not everyone's event loop.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, onResponseHookHandler } from 'fastify';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Logger } from '../log.js';
import { evictOldest } from '../../ledger/lru.js';
import { HttpError, RateLimitedError } from './errors.js';

export interface HttpLimits {
  /** Open connections at most (the server refuses more). */
  maxConnections: number;
  /** Open connections from one client address at most (more are closed at once). */
  maxConnectionsPerClient: number;
  /** Time to receive a request's headers. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** Idle time allowed on a kept-alive connection between requests. */
  keepAliveTimeoutMs: number;
  /**
   * Per client address and budget, 0 for unlimited: requests per second
   * (`writes`, `proofs`, `reads`), and refused submissions per 10 seconds
   * (`rejected`).
   */
  rate: Record<Budget, number>;
  /**
   * Proofs at tree sizes other than the latest checkpoint's (whose cost
   * grows with the tiles they touch) computed per second, over all
   * clients; beyond it they get 503 busy. 0: unlimited.
   */
  oldSizeProofsPerSecond: number;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
}

/** The kinds of requests with a budget each. */
export type Budget = 'writes' | 'rejected' | 'proofs' | 'reads';

/** No limits (in-process tests with `inject`). */
export const UNLIMITED: HttpLimits = {
  maxConnections: 0,
  maxConnectionsPerClient: 0,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 72_000,
  rate: { writes: 0, rejected: 0, proofs: 0, reads: 0 },
  oldSizeProofsPerSecond: 0,
  trustProxy: false,
};

/** The fastify server options that carry the time limits. */
export function serverOptions(limits: HttpLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    trustProxy: limits.trustProxy,
    // Node checks the header and request deadlines on this interval (30 s by default).
    http: {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
  };
}

/** Caps open connections in all and per client address on `server` (0: no cap). */
export function capConnections(server: Server, limits: HttpLimits, log: Logger): void {
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  let warned = 0;
  server.on('drop', () => {
    if (Date.now() - warned > 10_000)
      log.warn({ max: limits.maxConnections }, 'connection limit reached: refusing connections');
    warned = Date.now();
  });
  if (limits.maxConnectionsPerClient <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/**
 * The rate limiter's counts: a fixed window per key, in an LRU map bounded
 * to `MAX_CLIENTS` keys. It answers each count with a snapshot:
 * @fastify/rate-limit's LocalStore hands out its live counter object, which
 * requests counted in the same turn of the event loop go on changing before
 * each reads it, so all of them saw the last one's count and all were
 * refused once one was.
 */
class WindowStore implements FastifyRateLimitStore {
  private readonly windows = new Map<string, { count: number; start: number }>();

  incr(key: string, cb: StoreCallback, timeWindow: number): void {
    this.count(key, cb, timeWindow, 1);
  }

  /** The count without counting (`{ increment: false }`). */
  read(key: string, cb: StoreCallback, timeWindow: number): void {
    this.count(key, cb, timeWindow, 0);
  }

  private count(key: string, cb: StoreCallback, timeWindow: number, by: number): void {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.start + timeWindow <= now) w = { count: 0, start: now };
    w.count += by;
    this.windows.delete(key); // most recently used last
    this.windows.set(key, w);
    evictOldest(this.windows, MAX_CLIENTS);
    cb(null, { current: w.count, ttl: w.start + timeWindow - now });
  }

  child(): FastifyRateLimitStore {
    return new WindowStore();
  }
}

type StoreCallback = (e: Error | null, r?: { current: number; ttl: number }) => void;

/** Client addresses whose counts are kept (the least recently seen go first). */
const MAX_CLIENTS = 100_000;

/** The hooks that hold a group of routes to a budget. */
export interface BudgetHooks {
  onRequest: onRequestHookHandler;
  onResponse?: onResponseHookHandler;
}

/**
 * Answers 429 for `budget` when the client's window ends (a tarpit): a
 * client that ignores 429 gets at most one answer per connection per
 * window, so its flood costs the event loop little more than its budget.
 */
async function refuse(budget: string, ttlMs: number): Promise<never> {
  await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, ttlMs))));
  throw new RateLimitedError(budget, Math.max(1, Math.ceil(ttlMs / 1000)));
}

/**
 * The hooks of each budget (null: unlimited), keyed by client address
 * (IPv6 by /56): `writes`, `proofs` and `reads` count every request;
 * `rejected` counts the submissions the log refused (4xx), and once a
 * client has more than its budget of those in a window, its submissions
 * are refused at once (429) for the rest of it — a flood of crafted
 * records is stopped before each costs a signature check and a batch slot,
 * while a client whose records are accepted keeps the whole write budget.
 */
export async function rateLimiters(
  app: FastifyInstance,
  limits: HttpLimits,
): Promise<Record<Budget, BudgetHooks | null>> {
  await app.register(rateLimit, { global: false, store: WindowStore });
  const counting = (budget: Exclude<Budget, 'rejected'>): BudgetHooks | null => {
    const max = limits.rate[budget];
    if (max <= 0) return null;
    // One store per budget, shared by its routes.
    const limiter = app.createRateLimit({ max, timeWindow: 1000 });
    return {
      onRequest: async (request: FastifyRequest) => {
        const r = await limiter(request);
        if (!r.isAllowed && r.isExceeded) await refuse(budget, r.ttl);
      },
    };
  };
  const rejected = (): BudgetHooks | null => {
    const max = limits.rate.rejected;
    if (max <= 0) return null;
    const limiter = app.createRateLimit({ max, timeWindow: REJECTED_WINDOW_MS });
    return {
      onRequest: async (request: FastifyRequest) => {
        const r = await limiter(request, { increment: false });
        if (!r.isAllowed && r.remaining === 0) await refuse('rejected', r.ttl);
      },
      onResponse: async (request, reply) => {
        const status = reply.statusCode;
        if (status >= 400 && status < 500 && status !== 429) await limiter(request);
      },
    };
  };
  return {
    writes: counting('writes'),
    rejected: rejected(),
    proofs: counting('proofs'),
    reads: counting('reads'),
  };
}

/** The window of the rejected-submissions budget. */
const REJECTED_WINDOW_MS = 10_000;

/**
 * A rate over all clients for costly work (proofs at old sizes): `take`
 * throws 503 busy once `perSecond` were taken in the current second.
 */
export class CostBudget {
  private window = 0;
  private used = 0;
  constructor(private readonly perSecond: number) {}

  take(what: string): void {
    if (this.perSecond <= 0) return;
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.window) {
      this.window = now;
      this.used = 0;
    }
    if (++this.used > this.perSecond)
      throw new HttpError(503, 'busy', `too many ${what} right now, retry later`, 1);
  }
}
