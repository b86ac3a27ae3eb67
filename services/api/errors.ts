/**
 * One mapping from domain errors to HTTP (DESIGN.md "Errors"): a JSON body
 * `{"error":{"code","message"}}` and the fitting status.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { UrnaError } from '../../ledger/errors.js';
import { PushbackError } from '../sequencer/sequencer.js';
import { NotLeaderError } from './log-node.js';

/** An error raised by the HTTP layer itself, with its status. */
export class HttpError extends UrnaError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  malformed: 400,
  empty: 400,
  bad_request: 400,
  out_of_range: 400,
  bad_proof: 400,
  bad_signature: 403,
  unverified: 403,
  forbidden: 403,
  not_found: 404,
  inconsistent: 409,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  pushback: 503,
  not_leader: 503,
  unavailable: 503,
  storage_corrupt: 500,
};

/** The HTTP status for an error: its own `status` if it has one, else by code; 500 for anything unknown. */
export function statusFor(e: unknown): number {
  if (e instanceof UrnaError) {
    const own = (e as { status?: unknown }).status;
    if (typeof own === 'number') return own;
    return STATUS_BY_CODE[e.code] ?? 422;
  }
  return 500;
}

/** Fastify's own errors (body limits, media types, bad JSON) under our codes. */
function fromFastify(e: FastifyError): HttpError | null {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'too_large', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(415, 'unsupported_media_type', e.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'empty', 'empty body');
    default:
      if (e.validation) return new HttpError(400, 'bad_request', e.message);
      if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
        return new HttpError(e.statusCode, 'bad_request', e.message);
      }
      return null;
  }
}

/** Fastify error handler: domain errors to JSON; unknown errors logged and hidden behind 500. */
export function sendError(e: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = e instanceof UrnaError ? e : fromFastify(e as FastifyError);
  if (!mapped) {
    request.log.error({ err: e }, 'internal error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  }
  const status = statusFor(mapped);
  // 503 is the log working as designed (pushback, a standby pointing to the leader): no stack trace.
  if (status === 503) request.log.warn({ code: mapped.code }, mapped.message);
  else if (status >= 500) request.log.error({ err: mapped }, mapped.message);
  if (mapped instanceof PushbackError) reply.header('Retry-After', String(mapped.retryAfterSeconds));
  if (mapped instanceof NotLeaderError) {
    reply.header('Retry-After', String(mapped.retryAfterSeconds));
    if (mapped.leader) {
      return reply
        .code(status)
        .header('Urna-Leader', mapped.leader)
        .send({ error: { code: mapped.code, message: mapped.message, leader: mapped.leader } });
    }
  }
  return reply.code(status).send({ error: { code: mapped.code, message: mapped.message } });
}
