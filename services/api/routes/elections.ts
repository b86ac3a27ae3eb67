/**
 * The election read API, derived from the committed state by the same pure
 * functions a verifier runs (ledger/rules.ts): GET /elections/<id> (manifest,
 * phase, counts, latest tally), GET /elections/<id>/ceremony (an encrypted
 * election's key ceremony: where its records are), GET /ballots/<tracker> (included at index,
 * superseded by a later ballot, or overridden), GET /records/<index> (a
 * decoded log entry) and GET /authorities (what the log trusts, from its
 * `log` records).
 */
import type { FastifyPluginAsync } from 'fastify';
import { toBase64, toHex } from '../../../ledger/bytes.js';
import { leafHash } from '../../../ledger/hash.js';
import { decodeRecord } from '../../../ledger/record.js';
import {
  ballotStatus,
  electionSummary,
  stateKey,
  type CeremonyState,
  type LogState,
} from '../../../ledger/rules.js';
import { ENTRIES_LEVEL, parseEntryBundle, TILE_WIDTH } from '../../../ledger/tile.js';
import { UrnaError } from '../../../ledger/errors.js';
import { withState } from '../../election/state.js';
import type { RouteOptions } from '../options.js';
import { HttpError } from '../errors.js';

export const electionRoutes: FastifyPluginAsync<RouteOptions> = async (app, { node, store }) => {
  app.get<{ Params: { id: string } }>('/elections/:id', async (request) => {
    const summary = await withState(store, (read) => electionSummary(read, request.params.id));
    if (!summary) throw new HttpError(404, 'not_found', `no election ${request.params.id}`);
    return summary;
  });

  // An encrypted election's key ceremony as the rules keep it: per guardian the
  // index of its guardian record (with its commitments and communication key),
  // of its shares and accept records, and the running sum of the keys. A
  // claim: readers fetch each record by index and check it (verifier/ceremony.ts).
  app.get<{ Params: { id: string } }>('/elections/:id/ceremony', async (request) => {
    const { id } = request.params;
    const ceremony = await withState(store, (read) => {
      if (read(stateKey.election(id)) === undefined) return undefined;
      return (read(stateKey.ceremony(id)) as CeremonyState | undefined) ?? null;
    });
    if (ceremony === undefined) throw new HttpError(404, 'not_found', `no election ${id}`);
    if (ceremony === null)
      throw new HttpError(
        404,
        'not_found',
        `election ${id} has no guardians (its ballots are not encrypted)`,
      );
    return ceremony;
  });

  // The log's origin, the authorities it trusts, the indexes of its log
  // records (each to check at /records/<index>) and how many elections are open.
  app.get('/authorities', async () => {
    const log = await withState(store, (read) => read(stateKey.log()) as LogState | undefined);
    if (!log)
      throw new HttpError(
        404,
        'not_found',
        'this log has no log record (not an election log, or not started)',
      );
    return log;
  });

  app.get<{ Params: { tracker: string } }>('/ballots/:tracker', async (request) => {
    const { tracker } = request.params;
    if (!/^[0-9a-f]{64}$/.test(tracker))
      throw new HttpError(400, 'malformed', 'tracker must be 64 lower-case hex digits');
    const status = await withState(store, (read) => ballotStatus(read, tracker));
    if (!status) throw new HttpError(404, 'not_found', 'no ballot with this tracker in the log (yet)');
    return status;
  });

  app.get<{ Params: { index: string } }>('/records/:index', async (request) => {
    const { index: text } = request.params;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(text))
      throw new HttpError(400, 'bad_request', 'index must be a decimal integer');
    const index = Number(text);
    const size = node.head.size;
    if (index >= size)
      throw new HttpError(404, 'not_found', `index ${index} is beyond the tree size ${size}`);
    const bundle = Math.floor(index / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const [data] = await node.tiles.fetchVerified(
      [{ level: ENTRIES_LEVEL, index: bundle, width }],
      node.head,
    );
    const entry = parseEntryBundle(data!)[index % TILE_WIDTH]!;
    const tracker = toHex(leafHash(entry));
    try {
      return { index, leafHash: tracker, record: decodeRecord(entry).record };
    } catch (e) {
      if (!(e instanceof UrnaError)) throw e;
      return { index, leafHash: tracker, entry: toBase64(entry) }; // an opaque entry of a log without rules
    }
  });
};
