/**
 * Proofs on demand: GET /receipt/<hex leaf hash> (C2SP tlog-proof at the
 * latest checkpoint), GET /proof/inclusion?index=I&size=N and
 * GET /proof/consistency?from=M&to=N (JSON, base64 hashes, RFC 9162 §2.1.3–4).
 * Receipts are verified against the signed root before they are served, so
 * corrupt storage yields an error (500 storage_corrupt), never a wrong receipt.
 */
import type { FastifyPluginAsync } from 'fastify';
import { fromHex, toBase64 } from '../../../ledger/bytes.js';
import { parseCheckpoint } from '../../../ledger/checkpoint.js';
import { proveConsistency, proveInclusion, treeHash } from '../../../ledger/merkle.js';
import { parseNote } from '../../../ledger/note.js';
import { receiptsAt } from '../../node/receipts.js';
import { evictOldest } from '../../../ledger/lru.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

/** Parses a decimal query parameter strictly (no sign, no leading zeros, safe integer). */
function sizeParam(query: unknown, name: string): number {
  const value = (query as Record<string, unknown>)[name];
  if (
    typeof value !== 'string' ||
    !/^(0|[1-9][0-9]{0,15})$/.test(value) ||
    !Number.isSafeInteger(Number(value))
  ) {
    throw new HttpError(400, 'bad_request', `query parameter ${name} must be a decimal integer`);
  }
  return Number(value);
}

export const proofRoutes: FastifyPluginAsync<RouteOptions> = async (
  app,
  { node, store, oldSizeProofs, cosignatures },
) => {
  app.get<{ Params: { hash: string } }>('/receipt/:hash', async (request, reply) => {
    const { hash } = request.params;
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new HttpError(400, 'malformed', 'leaf hash must be 64 lower-case hex digits');
    const leafHash = fromHex(hash);
    const [index] = await store.lookupLeaves([leafHash]);
    if (index === null || index === undefined || index >= node.head.size) {
      throw new HttpError(404, 'not_found', 'no such entry in the log (yet)');
    }
    // Under the newest checkpoint the witness quorum cosigned, when it holds the entry (offline-verifiable with
    // the log key and the policy); else under the log's own latest signature, and the header says so.
    const quorum = cosignatures?.latestQuorum();
    if (cosignatures) {
      const under = quorum && index < quorum.size && quorum.size <= node.head.size ? quorum : null;
      reply.header(
        'Urna-Witnesses',
        under ? under.witnesses.join(' ') || 'none' : 'none (quorum not reached yet)',
      );
      if (under) {
        const root = parseCheckpoint(parseNote(under.note).text).root;
        const [r] = await receiptsAt(node.tiles, { size: under.size, root, checkpoint: under.note }, [
          { index, leafHash },
        ]);
        return reply.header('Content-Type', 'text/plain; charset=utf-8').send(r!.receipt);
      }
    }
    const { receipt } = await node.receiptFor(index, leafHash);
    return reply.header('Content-Type', 'text/plain; charset=utf-8').send(receipt);
  });

  /**
   * Proofs at the latest checkpoint's size, as answered: many clients ask
   * for the same ones (monitors, from the sizes they saw, to the latest), and
   * a proof between two sizes never changes, so they are kept (LRU). Proofs
   * at older sizes are not kept (asking for random ones is the costly
   * abuse); they are bounded by `oldSizeProofs` instead.
   */
  const answers = new Map<string, object>();
  const answer = async (key: string, latest: boolean, compute: () => Promise<object>) => {
    const kept = answers.get(key);
    if (kept) return kept;
    if (!latest) oldSizeProofs.take('proofs at older tree sizes');
    const body = await compute();
    if (latest) {
      answers.set(key, body);
      evictOldest(answers, PROOF_ANSWERS);
    }
    return body;
  };

  app.get('/proof/inclusion', async (request) => {
    const index = sizeParam(request.query, 'index');
    const size = sizeParam(request.query, 'size');
    const current = node.head.size;
    if (size > current)
      throw new HttpError(400, 'out_of_range', `size ${size} is beyond the tree size ${current}`);
    if (index >= size) throw new HttpError(400, 'out_of_range', `index ${index} is not below size ${size}`);
    return answer(`i/${index}/${size}`, size === current, async () => {
      const { proof, root } = await node.tiles.withHashes(
        current,
        (r) => ({ proof: proveInclusion(index, size, r), root: treeHash(size, r) }),
        node.head,
      );
      return { index, size, root: toBase64(root), proof: proof.map(toBase64) };
    });
  });

  app.get('/proof/consistency', async (request) => {
    const from = sizeParam(request.query, 'from');
    const to = sizeParam(request.query, 'to');
    const current = node.head.size;
    if (to > current)
      throw new HttpError(400, 'out_of_range', `size ${to} is beyond the tree size ${current}`);
    if (from < 1 || from > to) throw new HttpError(400, 'out_of_range', 'need 1 <= from <= to');
    return answer(`c/${from}/${to}`, to === current, async () => {
      const proof = await node.tiles.withHashes(current, (r) => proveConsistency(from, to, r), node.head);
      return { from, to, proof: proof.map(toBase64) };
    });
  });
};

/** Proof answers at the latest sizes kept. */
const PROOF_ANSWERS = 4096;
