/**
 * One mapping from errors to HTTP (DESIGN.md "Errors"): a JSON body
 * `{"error":{"code","message"}}` and the fitting status, for every error
 * the API answers with — domain errors, fastify's own, the HTTP parser's
 * (clientErrorHandler) and the rate limiter's. Every 429 and 503 carries
 * Retry-After.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { UrnaError } from '../../ledger/errors.js';
import type { Logger } from '../log.js';
import { NotLeaderError } from './log-node.js';

/** An error raised by the HTTP layer itself, with its status. */
export class HttpError extends UrnaError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
  }
}

/** What each rate budget counts, for messages. */
const BUDGET_NOUNS: Record<string, string> = {
  writes: 'submissions',
  proofs: 'proof requests',
  reads: 'read requests',
};

/** 429: this client used its budget of a kind of request (writes, proofs, reads) for now. */
export class RateLimitedError extends HttpError {
  constructor(budget: string, retryAfterSeconds: number) {
    const what = BUDGET_NOUNS[budget] ?? `${budget} requests`;
    super(429, 'rate_limited', `too many ${what} from this client, retry later`, retryAfterSeconds);
  }
}

/** The status of every error code the API answers with. */
export const STATUS_BY_CODE: Record<string, number> = {
  malformed: 400,
  empty: 400,
  bad_request: 400,
  out_of_range: 400,
  bad_proof: 400,
  bad_signature: 403,
  unverified: 403,
  forbidden: 403,
  not_found: 404,
  timeout: 408,
  inconsistent: 409,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  pushback: 503,
  not_leader: 503,
  unavailable: 503,
  storage_unavailable: 503,
  storage_full: 503,
  shutting_down: 503,
  busy: 503,
  storage_corrupt: 500,
  internal: 500,
};

/** The HTTP status for an error: its own `status` if it has one, else by code (422 for a rule's code); 500 for anything unknown. */
export function statusFor(e: unknown): number {
  if (e instanceof UrnaError) {
    const own = (e as { status?: unknown }).status;
    if (typeof own === 'number') return own;
    return STATUS_BY_CODE[e.code] ?? 422;
  }
  return 500;
}

/** Fastify's own errors (body limits, media types, bad JSON, bad URLs) under our codes. */
function fromFastify(e: FastifyError): HttpError | null {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'too_large', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(415, 'unsupported_media_type', e.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'empty', 'empty body');
    default: {
      if (e.validation) return new HttpError(400, 'bad_request', e.message);
      const status = e.statusCode;
      if (typeof status === 'number' && status >= 400 && status < 600 && status !== 500) {
        const code =
          status === 408
            ? 'timeout'
            : status === 413
              ? 'too_large'
              : status >= 500
                ? 'unavailable'
                : 'bad_request';
        return new HttpError(status, code, e.message);
      }
      return null;
    }
  }
}

/** The seconds a 429 or 503 asks the client to wait: the error's own, else 1. */
function retryAfter(e: UrnaError): number {
  const own = (e as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof own === 'number' && own > 0 ? Math.ceil(own) : 1;
}

/** Fastify error handler: domain errors to JSON; unknown errors logged and hidden behind 500. */
export function sendError(e: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = e instanceof UrnaError ? e : fromFastify(e as FastifyError);
  if (!mapped) {
    request.log.error({ err: e, url: request.url }, 'internal error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  }
  const status = statusFor(mapped);
  // 503 is the log working as designed (pushback, a standby pointing to the
  // leader, a fault the node reports once itself): no line per request.
  if (status >= 500 && status !== 503) request.log.error({ err: mapped, url: request.url }, mapped.message);
  if (status === 503 || status === 429) reply.header('Retry-After', String(retryAfter(mapped)));
  if (mapped instanceof NotLeaderError && mapped.leader) {
    return reply
      .code(status)
      .header('Urna-Leader', mapped.leader)
      .send({ error: { code: mapped.code, message: mapped.message, leader: mapped.leader } });
  }
  return reply.code(status).send({ error: { code: mapped.code, message: mapped.message } });
}

/**
 * What the HTTP parser refuses before fastify sees a request (a malformed
 * request, headers too large, a request that did not arrive in time),
 * answered in the same JSON shape, then the connection is closed.
 */
export function clientErrorHandler(log: Logger) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, code, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'timeout', 'the request did not arrive in time']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'request headers too large']
          : err.code === 'HPE_URI_TOO_LONG'
            ? [414, 'bad_request', 'request URI too long']
            : [400, 'bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`];
    log.debug({ err, status }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify({ error: { code, message } });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
