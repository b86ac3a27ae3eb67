/**
 * The ceilings of the HTTP paths: the same fastify setup as the log (raw
 * body parsing, same limits) answering a POST without doing anything; a
 * signed POST (`/verify`: the body is a 32-byte Ed25519 public key, a
 * 64-byte signature, then the message) answered once one native verify on
 * a worker pool of one thread per core accepts it, the submissions of one
 * event-loop turn sent to a worker together (as the log's record pool
 * does); and a GET of 8 KiB of constant bytes (a full hash tile's size)
 * without reading anything. Prints `listening on URL`.
 */
import Fastify from 'fastify';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { acceptRawBodies } from '../../services/api/app.js';
import { MAX_ENTRY_SIZE } from '../../ledger/tile.js';

const app = Fastify({ logger: false, bodyLimit: MAX_ENTRY_SIZE });
acceptRawBodies(app);
app.post('/add', async (request, reply) => {
  const body = request.body as Buffer;
  return reply.code(201).send({ index: 0, leafHash: '', receipt: '', duplicate: false, length: body.length });
});
const VERIFY_WORKER = `
  const { parentPort } = require('node:worker_threads');
  const { createPublicKey, verify } = require('node:crypto');
  parentPort.on('message', ({ id, bodies }) => {
    const ok = bodies.map((b) => {
      // A JWK import, as the log's native backend does (cheaper than OpenSSL's DER decoder).
      const x = Buffer.from(b.subarray(0, 32)).toString('base64url');
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
      return verify(null, b.subarray(96), key, b.subarray(32, 96));
    });
    parentPort.postMessage({ id, ok });
  });
`;
const workers = Array.from(
  { length: availableParallelism() },
  () => new Worker(VERIFY_WORKER, { eval: true }),
);
const waiting = new Map<number, Array<(ok: boolean) => void>>();
for (const w of workers)
  w.on('message', ({ id, ok }: { id: number; ok: boolean[] }) => {
    waiting.get(id)!.forEach((answer, i) => answer(ok[i]!));
    waiting.delete(id);
  });
let turn: { bodies: Uint8Array[]; answers: Array<(ok: boolean) => void> } | null = null;
let nextId = 0;
function verifyOnPool(body: Uint8Array): Promise<boolean> {
  if (turn === null) {
    const batch = (turn = { bodies: [], answers: [] });
    setImmediate(() => {
      turn = null;
      const id = nextId++;
      waiting.set(id, batch.answers);
      workers[id % workers.length]!.postMessage({ id, bodies: batch.bodies });
    });
  }
  turn.bodies.push(body);
  return new Promise((resolve) => turn!.answers.push(resolve));
}
app.post('/verify', async (request, reply) => {
  const body = request.body as Buffer;
  if (body.length < 96 || !(await verifyOnPool(body)))
    return reply.code(400).send({ error: 'bad signature' });
  return reply.code(201).send({ index: 0, leafHash: '', receipt: '', duplicate: false, length: body.length });
});

const tile = Buffer.alloc(8192, 7);
app.get('/bytes/8192', async (_request, reply) =>
  reply.header('Content-Type', 'application/octet-stream').send(tile),
);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`urna: log none\nurna: listening on ${url}\n`);
