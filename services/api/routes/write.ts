/**
 * POST /add: submit one entry (raw bytes, application/octet-stream or
 * application/json). Answers once the entry is durable and covered by a
 * signed checkpoint, with its index, leaf hash (the ballot tracker) and a
 * C2SP tlog-proof receipt; with `?receipt=later`, with the index and leaf
 * hash only, the receipt then fetched by `GET /receipt/<leaf hash>`
 * (cheaper for the log under load; see `ReceiptWhen`).
 */
import type { FastifyPluginAsync } from 'fastify';
import { toHex } from '../../../ledger/bytes.js';
import { hasReceipt, type ReceiptWhen } from '../../node/receipts.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

/** The answer to a submission (serialised by fast-json-stringify from this schema; `receipt` absent with `?receipt=later`). */
const answerSchema = {
  type: 'object',
  required: ['index', 'leafHash', 'duplicate'],
  properties: {
    index: { type: 'integer' },
    leafHash: { type: 'string' },
    receipt: { type: 'string' },
    duplicate: { type: 'boolean' },
  },
} as const;

const WHEN: ReadonlySet<string> = new Set<ReceiptWhen>(['now', 'later']);

export const writeRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node }) => {
  app.post<{ Querystring: { receipt?: string } }>(
    '/add',
    { schema: { response: { 200: answerSchema, 201: answerSchema } } },
    async (request, reply) => {
      const when = request.query.receipt ?? 'now';
      if (typeof when !== 'string' || !WHEN.has(when))
        throw new HttpError(400, 'malformed', 'receipt must be "now" or "later"');
      const body = request.body;
      if (!(body instanceof Uint8Array) || body.length === 0)
        throw new HttpError(400, 'empty', 'empty entry');
      const entry = new Uint8Array(body.buffer, body.byteOffset, body.length);
      const result = await node.submit(entry, when as ReceiptWhen);
      return reply.code(result.duplicate ? 200 : 201).send({
        index: result.index,
        leafHash: toHex(result.leafHash),
        ...(hasReceipt(result) ? { receipt: result.receipt } : {}),
        duplicate: result.duplicate,
      });
    },
  );
};
