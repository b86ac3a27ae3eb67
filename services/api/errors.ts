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
import { NotLeaderError } from '../node/log-node.js';

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
  rejected: 'refused submissions',
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

/**
 * Every error code of the API itself, its status, and what it means: the
 * one description the status mapping and the README's error table
 * (dev/docs.ts) are made from. Records and rules bring their own codes
 * (ledger/record.ts RECORD_ERROR_STATUS, ledger/rules.ts RULE_ERROR_STATUS).
 */
export const ERROR_CODES = {
  malformed: [400, 'the entry, a tile path or a leaf hash does not parse'],
  empty: [400, 'an empty entry'],
  bad_request: [400, 'a malformed request: query parameters, URL, HTTP syntax'],
  out_of_range: [400, 'an index or size outside the tree'],
  bad_proof: [400, 'a proof that does not verify'],
  bad_signature: [403, 'a signature that does not verify'],
  unverified: [403, 'a note without a signature by a known key'],
  forbidden: [403, 'the signer lacks the role'],
  not_found: [404, 'no such route, entry, tile, election or ballot (yet)'],
  timeout: [408, 'the request did not arrive within --request-timeout-ms'],
  inconsistent: [409, "conflicts with the log's state"],
  conflict: [409, "conflicts with the log's state"],
  too_large: [413, 'an entry over 65,535 bytes'],
  unsupported_media_type: [415, 'a body that is neither application/octet-stream nor application/json'],
  rate_limited: [429, 'this client used its budget of submissions, proofs or reads for now (Retry-After)'],
  uri_too_long: [414, 'a path segment longer than the route allows'],
  headers_too_large: [431, 'request headers too large'],
  storage_corrupt: [
    500,
    'stored data does not authenticate against the signed checkpoint; the node reports itself unhealthy',
  ],
  internal: [500, 'a bug: logged, with no details in the answer'],
  pushback: [503, 'the pool is full (Retry-After)'],
  not_leader: [503, 'a standby or mirror: submit to the leader in `error.leader` / `Urna-Leader`'],
  unavailable: [503, 'the sequencer stopped or stepped down, or storage is corrupt'],
  storage_unavailable: [
    503,
    'storage failed for now (disk full, out of file descriptors); the node retries by itself',
  ],
  storage_full: [503, 'free space is below --min-free-mb; writes resume once space is freed'],
  shutting_down: [503, 'the node is shutting down'],
  busy: [503, 'too many proofs at older tree sizes right now (--old-proofs-per-second)'],
} as const satisfies Record<string, readonly [number, string]>;

/** The status of every error code the API answers with (from ERROR_CODES). */
export const STATUS_BY_CODE: Record<string, number> = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, [status]]) => [code, status]),
);

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
        // The code of that status in ERROR_CODES where it has one of its own, else the generic one.
        const own = { 408: 'timeout', 413: 'too_large', 414: 'uri_too_long', 431: 'headers_too_large' }[
          status
        ];
        const code = own ?? (status >= 500 ? 'unavailable' : 'bad_request');
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
            ? [414, 'uri_too_long', 'request URI too long']
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
