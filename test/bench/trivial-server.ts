/**
 * The ceilings of the HTTP paths: the same fastify setup as the log (raw
 * body parsing, same limits) answering a POST without doing anything, and
 * a GET of 8 KiB of constant bytes (a full hash tile's size) without
 * reading anything. Prints `listening on URL`.
 */
import Fastify from 'fastify';
import { acceptRawBodies } from '../../services/api/app.js';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';

const app = Fastify({ logger: false, bodyLimit: MAX_ENTRY_SIZE });
acceptRawBodies(app);
app.post('/add', async (request, reply) => {
  const body = request.body as Buffer;
  return reply.code(201).send({ index: 0, leafHash: '', receipt: '', duplicate: false, length: body.length });
});
const tile = Buffer.alloc(8192, 7);
app.get('/bytes/8192', async (_request, reply) =>
  reply.header('Content-Type', 'application/octet-stream').send(tile),
);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`urna: log none\nurna: listening on ${url}\n`);
