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
import type { RecordErrorCode } from '../../ledger/record.js';
import type { RuleErrorCode } from '../../ledger/rules.js';
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
 * (ledger/record.ts, ledger/rules.ts), answered as RECORD_STATUS and
 * RULE_STATUS say.
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

/**
 * The status of each code of a record that is not valid by itself
 * (ledger/record.ts): 400 malformed, 413 too large, 422 inconsistent within
 * the record.
 */
export const RECORD_STATUS: { readonly [code in RecordErrorCode]: number } = {
  too_large: 413,
  non_canonical: 400,
  unknown_type: 400,
  bad_version: 400,
  unknown_field: 400,
  missing_field: 400,
  bad_type: 400,
  bad_id: 400,
  bad_key: 400,
  bad_value: 400,
  duplicate: 422,
  bad_reference: 422,
  bad_tree: 422,
};

/**
 * The status of each code of the election rules (ledger/rules.ts): 403 the
 * signer's role, 404 an unknown election or credential, 409 a conflict with
 * the log's state, 422 another rule.
 */
export const RULE_STATUS: { readonly [code in RuleErrorCode]: number } = {
  wrong_role: 403,
  outside_subtree: 403,
  log_not_configured: 409,
  election_open: 409,
  stale_log_record: 409,
  wrong_log: 422,
  unknown_election: 404,
  unknown_credential: 404,
  election_exists: 409,
  district_exists: 409,
  duplicate_credential: 409,
  illegal_transition: 409,
  wrong_phase: 409,
  wrong_stage: 409,
  overridden: 409,
  already_voted: 409,
  duplicate_record: 409,
  stale_tally: 409,
  stale_tally_root: 409,
  outdated_tally: 409,
  unknown_district: 422,
  unknown_contest: 422,
  unknown_option: 422,
  not_polling_district: 422,
  wrong_tally: 422,
  missing_option: 422,
  over_electorate: 422,
  district_mismatch: 422,
  bad_tree: 422,
  too_many_districts: 422,
  bad_tally_size: 422,
  already_published: 409,
  ceremony_incomplete: 409,
  wrong_quorum: 422,
  wrong_shares: 422,
  wrong_key: 422,
  invalid_proof: 422,
  wrong_ballot_form: 422,
  spoiled_ballot: 409,
  wrong_opening: 422,
  nothing_to_decrypt: 422,
  stale_decryption: 409,
  wrong_decryption: 422,
};

/** The status of every code the API answers with: its own, the records', the rules'. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ...RECORD_STATUS,
  ...RULE_STATUS,
  ...Object.fromEntries(Object.entries(ERROR_CODES).map(([code, [status]]) => [code, status])),
};

/** The HTTP status for an error: an HttpError's own, else by its code; 500 for a code or error it does not know. */
export function statusFor(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof UrnaError) return STATUS_BY_CODE[e.code] ?? 500;
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
