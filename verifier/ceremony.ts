/**
 * An encrypted election's key ceremony read from the log, authenticated
 * (docs/DESIGN.md "Encrypted ballots"): the `election` record and the
 * guardians' `guardian`, `shares` and `accept` records, each read through
 * LogReader (tiles authenticated against a checkpoint signed by the log's
 * key) and signature-checked, so that a guardian, a voter or a verifier
 * takes nothing from the server's word but where to look.
 *
 * Which entries are the ceremony's is the server's claim (`GET
 * /elections/<id>` gives the election record's index, `GET
 * /elections/<id>/ceremony` the ceremony records'), so each claimed entry is
 * checked: of the right type, for this election, signed by the guardian
 * whose index its body states, as the authenticated election record names
 * it. A `guardian` record's proofs are verified here too. A server that
 * hides a record can only delay its readers, never make them accept a
 * record the guardian did not sign.
 */
import { toBase64 } from '../ledger/bytes.js';
import { verifiedAhead } from '../ledger/ed25519.js';
import { guardianKeys } from '../ledger/encrypted-election.js';
import type { EncryptionContext } from '../ledger/encrypted-election.js';
import { UrnaError } from '../ledger/errors.js';
import { electionKey, type CommunicationKey, type GuardianKey } from '../ledger/guardian.js';
import { encodeElement, type Element } from '../ledger/group.js';
import type { TreeHead } from '../ledger/merkle.js';
import {
  decodeRecord,
  type AcceptBody,
  type ElectionBody,
  type GuardianBody,
  type Record as LogRecord,
  type SharesBody,
} from '../ledger/record.js';
import type { CeremonyState, ElectionSummary } from '../ledger/rules.js';
import { LogError, type LogClient } from './client.js';
import type { LogReader } from './reader.js';

/**
 * A claimed record that is not what the claim says: not under the
 * checkpoint's tree, not a valid record, of another type or election, or
 * not signed by the guardian it names. `index` names the entry.
 */
export class CeremonyRecordError extends UrnaError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super('untrusted_ceremony_record', `entry ${index}: ${message}`);
  }
}

/** The `election` record of an election, authenticated. */
export interface ElectionRecordView {
  index: number;
  /** Its leaf hash: what every proof of the election binds. */
  hash: Uint8Array;
  body: ElectionBody;
}

/** The ceremony records published under one checkpoint, authenticated, by guardian index. */
export interface CeremonyView {
  election: ElectionRecordView;
  head: TreeHead;
  guardians: Map<
    number,
    { index: number; body: GuardianBody; key: GuardianKey; communication: CommunicationKey }
  >;
  shares: Map<number, { index: number; body: SharesBody }>;
  accepted: Map<number, { index: number; body: AcceptBody }>;
}

/** `GET /elections/<id>/ceremony`: where the log says the ceremony's records are (a claim, checked by {@link readCeremony}). */
export async function fetchCeremonyClaim(client: LogClient, id: string): Promise<CeremonyState> {
  const what = `GET /elections/${id}/ceremony`;
  let response: Response;
  try {
    response = await fetch(client.url(`elections/${encodeURIComponent(id)}/ceremony`));
  } catch (cause) {
    throw new LogError('network', 0, `${what}: ${cause instanceof Error ? cause.message : cause}`, { cause });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new LogError('bad_response', response.status, `${what}: answer is not JSON`, { cause });
  }
  if (!response.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
    const code = typeof e?.code === 'string' ? e.code : `http_${response.status}`;
    throw new LogError(code, response.status, `${what}: ${code}: ${String(e?.message ?? text)}`);
  }
  const c = body as Partial<CeremonyState>;
  if (typeof c.guardians !== 'object' || typeof c.shares !== 'object' || typeof c.accepted !== 'object')
    throw new LogError('bad_response', response.status, `${what}: unexpected answer`);
  return body as CeremonyState;
}

/** The entry at `index` under `head`, authenticated, decoded and signature-checked, of type `type` and election `id`. */
async function readRecord(
  reader: LogReader,
  head: TreeHead,
  index: number,
  type: LogRecord['type'],
  id: string,
) {
  if (!Number.isSafeInteger(index) || index < 0 || index >= head.size)
    throw new CeremonyRecordError(index, `not an entry of the tree of ${head.size}`);
  let decoded;
  try {
    const entry = await reader.entry(index, head);
    decoded = await verifiedAhead(() => decodeRecord(entry));
  } catch (e) {
    if (e instanceof LogError) throw e;
    throw new CeremonyRecordError(index, `not a valid record: ${e instanceof Error ? e.message : e}`);
  }
  const r = decoded.record;
  if (r.type !== type) throw new CeremonyRecordError(index, `an entry of type ${r.type}, not ${type}`);
  if ((r as { election?: string }).election !== id)
    throw new CeremonyRecordError(index, `a record of another election than ${id}`);
  return decoded;
}

/**
 * The `election` record of election `id` at `index` (the log's summary
 * says where), authenticated under `head`. Throws CeremonyRecordError if
 * the entry is not that election's record, LogError when the source does
 * not answer, the reader's errors for tiles that do not authenticate.
 */
export async function readElectionRecord(
  reader: LogReader,
  id: string,
  index: number,
  head: TreeHead,
): Promise<ElectionRecordView> {
  const d = await readRecord(reader, head, index, 'election', id);
  return { index, hash: d.leafHash, body: d.record.body as ElectionBody };
}

/**
 * The ceremony records `claim` points to that are under `head` (a record
 * claimed beyond it is left out: it is not provable yet), each
 * authenticated and checked against `election`. `known` caches records
 * read before (a record's entry never changes). Throws CeremonyRecordError
 * for a claimed entry that is not the guardian's record it is said to be
 * (or a `guardian` record whose proofs fail), LogError when the source
 * does not answer.
 */
export async function readCeremony(
  reader: LogReader,
  election: ElectionRecordView,
  claim: CeremonyState,
  head: TreeHead,
  known: Map<number, LogRecord> = new Map(),
): Promise<CeremonyView> {
  const guardians = election.body.roles.guardians;
  const id = election.body.id;
  if (!guardians) throw new CeremonyRecordError(election.index, `election ${id} has no guardians`);
  const view: CeremonyView = { election, head, guardians: new Map(), shares: new Map(), accepted: new Map() };
  const read = async <B extends { index: number }>(
    i: string,
    index: number,
    type: 'guardian' | 'shares' | 'accept',
  ): Promise<B | null> => {
    if (!Number.isSafeInteger(index) || index >= head.size) return null;
    let record = known.get(index) as LogRecord | undefined;
    if (record === undefined) {
      record = (await readRecord(reader, head, index, type, id)).record;
      known.set(index, record);
    }
    if (record.type !== type)
      throw new CeremonyRecordError(index, `an entry of type ${record.type}, not ${type}`);
    const body = record.body as unknown as B;
    if (String(body.index) !== i)
      throw new CeremonyRecordError(index, `the ${type} record of guardian ${body.index}, not of ${i}`);
    if (guardians.keys[body.index - 1] !== record.signer)
      throw new CeremonyRecordError(index, `not signed by guardian ${body.index} of election ${id}`);
    return body;
  };
  for (const [i, g] of Object.entries(claim.guardians)) {
    const body = await read<GuardianBody>(i, g.record, 'guardian');
    if (body === null) continue;
    const keys = guardianKeys(body, guardians.quorum, election.hash);
    if (keys === null)
      throw new CeremonyRecordError(g.record, `the proofs of guardian ${i}'s commitments do not verify`);
    view.guardians.set(body.index, { index: g.record, body, ...keys });
  }
  for (const [i, index] of Object.entries(claim.shares)) {
    const body = await read<SharesBody>(i, index, 'shares');
    if (body !== null) view.shares.set(body.index, { index, body });
  }
  for (const [i, index] of Object.entries(claim.accepted)) {
    const body = await read<AcceptBody>(i, index, 'accept');
    if (body !== null) view.accepted.set(body.index, { index, body });
  }
  return view;
}

/** The guardian indexes (1 … n) of the view's election that `done` lacks. */
export function missingGuardians(view: CeremonyView, done: Map<number, unknown>): number[] {
  const n = view.election.body.roles.guardians?.keys.length ?? 0;
  return Array.from({ length: n }, (_, i) => i + 1).filter((i) => !done.has(i));
}

/**
 * The election key the view proves fixed: Σ K_{i,0} over every guardian's
 * commitments, when every guardian's `accept` record states that key; null
 * while a guardian has not published or accepted. Throws
 * CeremonyRecordError for an accept of another key (the log's rules refuse
 * one: the log did not follow them).
 */
export function fixedKey(view: CeremonyView): Element | null {
  if (missingGuardians(view, view.guardians).length > 0) return null;
  const key = electionKey([...view.guardians.values()].map((g) => g.key));
  const b64 = toBase64(encodeElement(key));
  for (const a of view.accepted.values())
    if (a.body.key !== b64) throw new CeremonyRecordError(a.index, `an accept of another key than ${b64}`);
  return missingGuardians(view, view.accepted).length === 0 ? key : null;
}

/** An election's encryption context read from the log, authenticated, with where it was read. */
export interface AuthenticatedContext {
  ctx: EncryptionContext;
  view: CeremonyView;
}

/** The key of an encrypted election is not fixed (yet) under the log's latest checkpoint. */
export class KeyNotFixedError extends UrnaError {
  constructor(
    readonly election: string,
    readonly waiting: number[],
  ) {
    super(
      'key_not_fixed',
      `the key of election ${election} is not fixed: ` +
        (waiting.length ? `guardian(s) ${waiting.join(', ')} have not accepted it ` : '') +
        `(the guardians' key ceremony is not complete)`,
    );
  }
}

/**
 * The encryption context (hash, key, contests) of the encrypted election
 * `summary` names, from authenticated records under `opts.head` (default:
 * the source's latest verified checkpoint): the election record (its leaf
 * hash, its contests) and the key every guardian's commitments sum to and
 * every guardian accepted. Where the records are is `opts.claim` (default:
 * the source's `GET /elections/<id>/ceremony`). Throws KeyNotFixedError
 * before every guardian accepted, CeremonyRecordError for claims that do
 * not check, LogError when the source does not answer.
 */
export async function readEncryptionContext(
  reader: LogReader,
  summary: Pick<ElectionSummary, 'id' | 'index'>,
  opts: { head?: TreeHead; claim?: CeremonyState } = {},
): Promise<AuthenticatedContext> {
  const head = opts.head ?? (await reader.checkpoint()).head;
  const election = await readElectionRecord(reader, summary.id, summary.index, head);
  const claim = opts.claim ?? (await fetchCeremonyClaim(reader.client, summary.id));
  const view = await readCeremony(reader, election, claim, head);
  const key = fixedKey(view);
  if (key === null) throw new KeyNotFixedError(summary.id, missingGuardians(view, view.accepted));
  return { ctx: { hash: election.hash, key, contests: election.body.contests }, view };
}
