/**
 * POST /add: submit one entry (raw bytes, application/octet-stream or
 * application/json). Answers once the entry is durable and signed, with its
 * index, leaf hash (the ballot tracker) and a C2SP tlog-proof receipt.
 */
import type { FastifyPluginAsync } from 'fastify';
import { toHex } from '../../../ledger/bytes.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

/** The answer to a submission (serialised by fast-json-stringify from this schema). */
const receiptSchema = {
  type: 'object',
  required: ['index', 'leafHash', 'receipt', 'duplicate'],
  properties: {
    index: { type: 'integer' },
    leafHash: { type: 'string' },
    receipt: { type: 'string' },
    duplicate: { type: 'boolean' },
  },
} as const;

export const writeRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node }) => {
  app.post(
    '/add',
    { schema: { response: { 200: receiptSchema, 201: receiptSchema } } },
    async (request, reply) => {
      const body = request.body;
      if (!(body instanceof Uint8Array) || body.length === 0)
        throw new HttpError(400, 'empty', 'empty entry');
      const result = await node.submit(new Uint8Array(body.buffer, body.byteOffset, body.length));
      return reply.code(result.duplicate ? 200 : 201).send({
        index: result.index,
        leafHash: toHex(result.leafHash),
        receipt: result.receipt,
        duplicate: result.duplicate,
      });
    },
  );
};
