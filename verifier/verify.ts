/**
 * What a voter, an observer or a script verifies, as functions of the
 * verifier library (shared by `urna verify` and the web page): a checkpoint
 * against the log key and a witness policy, a receipt offline, a ballot
 * tracker's inclusion, and the consistency of an earlier checkpoint with
 * the source's latest. Each returns what it proved, or throws
 * {@link NotVerifiedError} saying why not; the ledger's own errors (a bad
 * signature, a proof that does not verify) are its cause.
 *
 * A verdict keeps apart what was proven here, from signed data and tiles
 * authenticated against a signed checkpoint, and what is only the log's
 * word (its index of ballots), so that a page or a report can say which is
 * which.
 */
import type { SplitViewEvidence } from '../ledger/alarm.js';
import { equalBytes, fromHex, toHex } from '../ledger/bytes.js';
import { type Checkpoint, openCheckpoint } from '../ledger/checkpoint.js';
import { parseCosignature } from '../ledger/cosignature.js';
import { verifiedAhead } from '../ledger/ed25519.js';
import { UrnaError } from '../ledger/errors.js';
import { leafHash } from '../ledger/hash.js';
import type { TreeHead } from '../ledger/merkle.js';
import { parseVerifierKey, type NoteVerifier } from '../ledger/note.js';
import { quorumSatisfied, witnessVerifiers, type Policy } from '../ledger/policy.js';
import { verifyReceipt, type ReceiptSubject } from '../ledger/receipt.js';
import { decodeRecord } from '../ledger/record.js';
import type { BallotStatus, CastBallotStatus } from '../ledger/rules.js';
import { LogError } from './client.js';
import type { LogReader } from './reader.js';

/**
 * Why something did not verify, as data: a page words it in its reader's
 * language (verifier/web/strings.ts), a script switches on `code`.
 */
export type Reason =
  /** The checkpoint is not signed by the log's key (or is not a checkpoint). */
  | { code: 'not_signed' }
  /** The witness policy's quorum did not cosign the checkpoint of `size`. */
  | { code: 'no_quorum'; size: number; cosigned: string[] }
  /** The receipt's proof or checkpoint does not verify for this entry. */
  | { code: 'bad_receipt' }
  | { code: 'bad_tracker' }
  | { code: 'no_ballot'; tracker: string }
  /** The ballot was spoiled (a Benaloh challenge): the log holds its opening at `index`, and the ballot never counts. */
  | { code: 'spoiled'; tracker: string; index: number }
  /** The source has no index of ballots (a static copy of the tiles): the ballot's index must be given. */
  | { code: 'no_index' }
  /** The ballot is at `index`, beyond the newest checkpoint's `size`: not yet provable. */
  | { code: 'not_yet'; index: number; size: number }
  /** The log's entry at `index` is not what it should be (not the ballot, not a valid record of its type). */
  | { code: 'wrong_entry'; index: number }
  /** The log's index says something of entry `index` that the entry disproves. */
  | { code: 'index_lies'; index?: number }
  /** The source's checkpoint (`size`) is older than one already seen (`seen`): stale, or forked. */
  | { code: 'stale'; size: number; seen: number }
  /** The source's checkpoint (`size`) does not extend one already seen (`seen`): a split view. */
  | { code: 'forked'; size: number; seen: number }
  /** The source serves tiles that do not match its own signed checkpoint. */
  | { code: 'bad_tiles' }
  /** A full replay refused an entry or a checkpoint (the audit). */
  | { code: 'replay' };

/**
 * Not verified: `reason` says why as data, the message in an English
 * sentence with the details; the ledger's error, if any, is the cause. For
 * a split view proven from the source's own tiles, `evidence` is what
 * `urna verify alarm` checks with the log key alone (ledger/alarm.ts).
 */
export class NotVerifiedError extends UrnaError {
  readonly reason: Reason;
  readonly evidence: SplitViewEvidence | undefined;
  constructor(reason: Reason, message: string, options?: { cause?: unknown; evidence?: SplitViewEvidence }) {
    super('not_verified', message, options);
    this.reason = reason;
    this.evidence = options?.evidence;
  }
}

/** Whom a verification trusts: the log's key and, optionally, a witness policy (C2SP tlog-policy). */
export interface Trust {
  /** The log's verifier key (note format). */
  logKey: string;
  /** Witnesses and their quorum; without one, cosignatures are not required (and not reported). */
  policy?: Policy;
}

/** A checkpoint verified: signed by the log; with a policy, the witnesses whose cosignature verified and the quorum. */
export interface CheckpointVerdict {
  note: string;
  checkpoint: Checkpoint;
  head: TreeHead;
  /** The policy's names of the witnesses that cosigned (empty without a policy). */
  cosigned: string[];
  /** Whether the policy's quorum cosigned; null without a policy. */
  quorum: boolean | null;
  /** POSIX seconds of the newest verified cosignature by a policy witness (tlog-cosignature's timestamp), or null. */
  newestCosignature: number | null;
}

function logVerifier(trust: Trust): NoteVerifier {
  return parseVerifierKey(trust.logKey.trim());
}

/** The policy's witnesses by their key's note name, and the policy names of the verified ones. */
function cosigners(
  trust: Trust,
  verifiedNames: readonly string[],
): { cosigned: string[]; quorum: boolean | null } {
  if (!trust.policy) return { cosigned: [], quorum: null };
  const byNote = new Map(witnessVerifiers(trust.policy).map((w) => [w.verifier.name, w.name]));
  const cosigned = verifiedNames.flatMap((n) => (byNote.has(n) ? [byNote.get(n)!] : []));
  return { cosigned, quorum: quorumSatisfied(trust.policy, new Set(cosigned)) };
}

function quorumOrThrow(v: { cosigned: string[]; quorum: boolean | null }, size: number): void {
  if (v.quorum === false)
    throw new NotVerifiedError(
      { code: 'no_quorum', size, cosigned: v.cosigned },
      `the checkpoint of size ${size} is not cosigned by the witness policy's quorum (cosigned by ${v.cosigned.length ? v.cosigned.join(', ') : 'none of its witnesses'})`,
    );
}

/**
 * Verifies a checkpoint note (C2SP tlog-checkpoint): the log's signature
 * under `trust.logKey`, and with a policy each witness cosignature (C2SP
 * tlog-cosignature) and the quorum. Throws NotVerifiedError when the log
 * did not sign it, a cosignature by a listed witness is bad, or (with
 * `requireQuorum`, the default) the quorum is not met.
 */
export function verifyCheckpoint(note: string, trust: Trust, requireQuorum = true): CheckpointVerdict {
  const witnesses = trust.policy ? witnessVerifiers(trust.policy).map((w) => w.verifier) : [];
  let opened;
  try {
    opened = openCheckpoint(note, logVerifier(trust), witnesses);
  } catch (e) {
    throw new NotVerifiedError({ code: 'not_signed' }, `the checkpoint is not the log's: ${message(e)}`, {
      cause: e,
    });
  }
  const { checkpoint } = opened;
  const v = cosigners(
    trust,
    opened.note.verified.map((s) => s.name),
  );
  if (requireQuorum) quorumOrThrow(v, checkpoint.size);
  const times = opened.note.verified
    .filter((s) => witnesses.some((w) => w.name === s.name && equalBytes(w.keyId, s.keyId)))
    .map((s) => parseCosignature(s).timestamp);
  const newestCosignature = times.length ? Math.max(...times) : null;
  return {
    note,
    checkpoint,
    head: { size: checkpoint.size, root: checkpoint.root },
    ...v,
    newestCosignature,
  };
}

/**
 * The source's latest checkpoint verified as {@link verifyCheckpoint} does
 * (with the platform's Ed25519 where it has one: ledger/ed25519.ts verifiedAhead).
 */
export async function verifiedCheckpoint(
  reader: LogReader,
  trust: Trust,
  requireQuorum = true,
): Promise<CheckpointVerdict> {
  const { note } = await reader.checkpoint();
  return verifiedAhead(() => verifyCheckpoint(note, trust, requireQuorum));
}

/** A receipt verified offline: the entry's index, and the checkpoint it is included under. */
export interface ReceiptVerdict {
  index: number;
  /** The leaf hash proven, lower-case hex (a ballot's tracker). */
  tracker: string;
  checkpoint: CheckpointVerdict;
}

/**
 * Verifies a receipt (C2SP tlog-proof) offline: its checkpoint as
 * {@link verifyCheckpoint} does (with `requireQuorum`, the default, the
 * witness quorum must have cosigned it), and the inclusion proof of
 * `subject` (the entry, or its leaf hash: the ballot tracker) under it.
 * A receipt issued at submission is under a checkpoint the witnesses have
 * not cosigned yet: without `requireQuorum` it verifies on the log's
 * signature, and {@link verifyConsistency} to a cosigned checkpoint of the
 * log then puts it under the witnesses' word. Throws NotVerifiedError with
 * the reason.
 */
export function verifyReceiptOffline(
  text: string,
  subject: ReceiptSubject,
  trust: Trust,
  requireQuorum = true,
): ReceiptVerdict {
  const witnesses = trust.policy ? witnessVerifiers(trust.policy).map((w) => w.verifier) : [];
  let verified;
  try {
    verified = verifyReceipt(text, subject, logVerifier(trust), { witnesses, quorum: 0 });
  } catch (e) {
    throw new NotVerifiedError({ code: 'bad_receipt' }, `the receipt does not verify: ${message(e)}`, {
      cause: e,
    });
  }
  const { receipt } = verified;
  const tracker = toHex('entry' in subject ? leafHash(subject.entry) : subject.leafHash);
  // The checkpoint's verdict (cosigners, quorum, their newest timestamp) as verifyCheckpoint gives it.
  const checkpoint = verifyCheckpoint(receipt.checkpoint, trust, requireQuorum);
  return { index: receipt.index, tracker, checkpoint };
}

/** A receipt checked offline and against a source's latest checkpoint. */
export interface ReceiptAgainstLogVerdict extends ReceiptVerdict {
  /** The source's latest checkpoint, which extends the receipt's. */
  latest: CheckpointVerdict;
}

/**
 * Verifies a receipt offline ({@link verifyReceiptOffline}, on the log's
 * signature) and then against the source's latest checkpoint
 * ({@link verifyConsistency}): the latest must extend the receipt's (a log
 * that forked since issuing it is caught, with the evidence), and the
 * witness quorum must have cosigned one of the two. A receipt issued at
 * submission, before the witnesses cosigned its checkpoint, is so put
 * under their word by a cosigned latest checkpoint. Throws
 * NotVerifiedError (no_quorum when neither is cosigned: a log serves a new
 * checkpoint while its witnesses cosign it, so try again shortly), LogError
 * when the source does not answer.
 */
export async function verifyReceiptAgainstLog(
  reader: LogReader,
  text: string,
  subject: ReceiptSubject,
  trust: Trust,
): Promise<ReceiptAgainstLogVerdict> {
  const v = await verifiedAhead(() => verifyReceiptOffline(text, subject, trust, false));
  const { to } = await verifyConsistency(reader, v.checkpoint.note, trust);
  if (v.checkpoint.quorum === false && to.quorum === false)
    throw new NotVerifiedError(
      { code: 'no_quorum', size: to.checkpoint.size, cosigned: to.cosigned },
      `neither the receipt's checkpoint nor the log's latest (size ${to.checkpoint.size}) is cosigned by the witness policy's quorum`,
    );
  return { ...v, latest: to };
}

/** A ballot's tracker checked against a source: what was proven, and what is the log's word. */
export interface BallotVerdict {
  tracker: string;
  index: number;
  election: string;
  /** The credential (base64 public key) that signed the ballot. */
  credential: string;
  /** Whether the ballot counts, by the log's index: `unknown` when the source has no index (a static copy). */
  status: CastBallotStatus['status'] | 'unknown';
  checkpoint: CheckpointVerdict;
  /** What was proven beyond the inclusion: the later ballot that counts instead, or the override, by index. */
  evidence: { later?: number; override?: number };
  /** Statements proven in the verifier from signed data and authenticated tiles. */
  proven: string[];
  /** Statements that are the log's word (its index), not proven here; a full audit proves them. */
  claimed: string[];
}

/** Options of {@link verifyBallot}. */
export interface VerifyBallotOptions {
  /** The ballot's index, when the source has no index of ballots (a static copy of the tiles). */
  index?: number;
  /** The checkpoint to prove under (default: the source's latest, verified with `trust`). */
  checkpoint?: CheckpointVerdict;
}

/**
 * Verifies that the ballot with `tracker` is in the log: the entry at its
 * index (from the log's index, `GET /ballots/<tracker>`, or
 * `opts.index`) is read through the authenticated reader under a checkpoint
 * verified with `trust`, and must have the tracker as its leaf hash and be
 * a validly signed ballot. What the index says about it counting is then
 * proven where the log holds the evidence under the checkpoint: a later
 * ballot of the same credential (superseded), or an override of the
 * credential (overridden, so none of its e-ballots count). That a ballot is
 * its credential's last stays the log's word. Throws NotVerifiedError
 * (`spoiled` for a tracker the log's index says was spoiled: that ballot
 * is not in the log), and LogError when the source does not answer.
 */
export async function verifyBallot(
  reader: LogReader,
  tracker: string,
  trust: Trust,
  opts: VerifyBallotOptions = {},
): Promise<BallotVerdict> {
  if (!/^[0-9a-fA-F]{64}$/.test(tracker))
    throw new NotVerifiedError({ code: 'bad_tracker' }, 'a ballot tracker is 64 hex digits');
  const t = tracker.toLowerCase();
  const cp = opts.checkpoint ?? (await verifiedCheckpoint(reader, trust));
  const size = cp.checkpoint.size;
  let status: BallotStatus | null = null;
  if (opts.index === undefined) {
    try {
      status = await reader.client.ballot(t);
    } catch (e) {
      // The log answers a tracker it does not know with its JSON error (not_found); a static copy of
      // the tiles has no index of ballots at all, and its host answers a bare 404.
      if (e instanceof LogError && e.status === 404 && e.code === 'not_found')
        throw new NotVerifiedError(
          { code: 'no_ballot', tracker: t },
          `the log has no ballot with tracker ${t}`,
          { cause: e },
        );
      if (e instanceof LogError && e.status === 404)
        throw new NotVerifiedError(
          { code: 'no_index' },
          `this source has no index of ballots (a static copy of the tiles?): check the ballot's receipt, or give its index (urna verify inclusion --index)`,
          { cause: e },
        );
      throw e;
    }
  }
  if (status?.status === 'spoiled')
    throw new NotVerifiedError(
      { code: 'spoiled', tracker: t, index: status.index },
      `the log holds no ballot with tracker ${t}: it was spoiled (a Benaloh challenge; its opening is the spoiled record at index ${status.index}, the log's word), so it never counts (urna verify spoiled checks the opening)`,
    );
  const index = opts.index ?? status!.index;
  if (!Number.isSafeInteger(index) || index < 0)
    throw new NotVerifiedError(
      { code: 'index_lies' },
      `the log's index gives a bad position for the ballot: ${index}`,
    );
  if (index >= size)
    throw new NotVerifiedError(
      { code: 'not_yet', index, size },
      `the ballot is at index ${index}, not yet under a signed checkpoint (size ${size}): try again in a few seconds`,
    );
  const ballot = await provenRecord(reader, index, cp.head, 'ballot');
  if (toHex(ballot.leafHash) !== t)
    throw new NotVerifiedError(
      { code: 'wrong_entry', index },
      `the entry at index ${index} is not the ballot with tracker ${t} (its leaf hash is ${toHex(ballot.leafHash)})`,
    );
  const election = electionOf(ballot.record) ?? '';
  const credential = ballot.record.signer;
  const proven = [
    `the ballot is entry ${index} of the log's tree of ${size} entries, under a checkpoint signed by the log` +
      (cp.quorum ? ` and cosigned by ${cp.cosigned.join(', ')}` : ''),
    `it is a ballot of election ${election}, signed by credential ${credential}`,
  ];
  const claimed: string[] = [];
  const evidence: BallotVerdict['evidence'] = {};
  const verdict = (s: BallotVerdict['status']): BallotVerdict => ({
    tracker: t,
    index,
    election,
    credential,
    status: s,
    checkpoint: cp,
    evidence,
    proven,
    claimed,
  });
  if (status === null) return verdict('unknown');

  if (status.status === 'overridden' && status.override !== null && status.override < size) {
    const o = await provenRecord(reader, status.override, cp.head, 'override');
    const body = o.record.body as { credential?: string };
    if (electionOf(o.record) !== election || body.credential !== credential)
      throw new NotVerifiedError(
        { code: 'index_lies', index: status.override },
        `the log says entry ${status.override} overrides this ballot's credential; it does not`,
      );
    evidence.override = status.override;
    proven.push(
      `entry ${status.override} is a paper-vote override of its credential: none of the credential's e-ballots count`,
    );
  } else if (status.status === 'superseded' && status.last < size) {
    const later = await provenRecord(reader, status.last, cp.head, 'ballot');
    if (electionOf(later.record) !== election || later.record.signer !== credential || status.last <= index)
      throw new NotVerifiedError(
        { code: 'index_lies', index: status.last },
        `the log says entry ${status.last} is a later ballot of this credential; it is not`,
      );
    evidence.later = status.last;
    proven.push(`entry ${status.last} is a later ballot of the same credential: that one counts instead`);
  } else if (status.status === 'included') {
    claimed.push(`it is its credential's last ballot and is counted (the log's index; an audit proves it)`);
  } else {
    claimed.push(`it is ${status.status} (the log's index: the evidence is not yet under the checkpoint)`);
  }
  return verdict(status.status);
}

/** The entry at `index` under `head`, authenticated, decoded and signature-checked, of record type `type`. */
async function provenRecord(reader: LogReader, index: number, head: TreeHead, type: string) {
  let decoded;
  try {
    const entry = await reader.entry(index, head);
    decoded = await verifiedAhead(() => decodeRecord(entry));
  } catch (e) {
    if (e instanceof LogError) throw e;
    throw new NotVerifiedError(
      { code: 'wrong_entry', index },
      `entry ${index} is not a valid record of the log: ${message(e)}`,
      {
        cause: e,
      },
    );
  }
  if (decoded.record.type !== type)
    throw new NotVerifiedError(
      { code: 'wrong_entry', index },
      `entry ${index} is a ${decoded.record.type} record, not a ${type}`,
    );
  return decoded;
}

/** An earlier checkpoint found consistent with the source's latest. */
export interface ConsistencyVerdict {
  from: CheckpointVerdict;
  to: CheckpointVerdict;
}

/**
 * Verifies that the source's latest checkpoint extends `fromNote` (an
 * earlier checkpoint of the same log): both signed by the log, the latest
 * no smaller, and the latest tree holding the earlier root at the earlier
 * size (RFC 9162 §2.1.4, from tiles authenticated against the latest).
 * Throws NotVerifiedError: `stale` for a smaller latest checkpoint,
 * `forked` when the latest tree holds another root at the earlier size
 * (with `evidence`: both notes, and the root at the earlier size with its
 * consistency proof from the source's own tiles, which proves the split view
 * to anyone with the log key), `bad_tiles` when the source's tiles do not
 * match its own checkpoint. LogError when the source does not answer.
 */
export async function verifyConsistency(
  reader: LogReader,
  fromNote: string,
  trust: Trust,
): Promise<ConsistencyVerdict> {
  const from = await verifiedAhead(() => verifyCheckpoint(fromNote, trust, false));
  const to = await verifiedCheckpoint(reader, trust, false);
  const [m, n] = [from.checkpoint.size, to.checkpoint.size];
  if (n < m)
    throw new NotVerifiedError(
      { code: 'stale', size: n, seen: m },
      `the source's latest checkpoint (size ${n}) is older than yours (size ${m}): it is stale, or it forked`,
    );
  let rootAt: Uint8Array;
  let proof: Uint8Array[];
  try {
    rootAt = await reader.rootAt(m, to.head);
    proof = m === n ? [] : await reader.consistencyProof(m, n, to.head);
  } catch (e) {
    if (e instanceof LogError) throw e;
    throw new NotVerifiedError(
      { code: 'bad_tiles' },
      `the source's tiles do not match its own checkpoint of size ${n}: ${message(e)}`,
      { cause: e },
    );
  }
  if (!equalBytes(rootAt, from.checkpoint.root)) {
    const evidence: SplitViewEvidence = {
      notes: [from.note, to.note],
      seen: ['the earlier checkpoint given', reader.client.baseUrl],
      rootAt: m === n ? null : rootAt,
      proof: m === n ? null : proof,
    };
    throw new NotVerifiedError(
      { code: 'forked', size: n, seen: m },
      `the log's checkpoint of size ${n} does not extend yours of size ${m}: its tree has root ${toHex(rootAt)} at size ${m}, not ${toHex(from.checkpoint.root)}`,
      { evidence },
    );
  }
  return { from, to };
}

/** A tracker (64 hex digits) as the receipt subject. Throws NotVerifiedError otherwise. */
export function trackerSubject(tracker: string): ReceiptSubject {
  if (!/^[0-9a-fA-F]{64}$/.test(tracker))
    throw new NotVerifiedError({ code: 'bad_tracker' }, 'a ballot tracker is 64 hex digits');
  return { leafHash: fromHex(tracker) };
}

function electionOf(record: object): string | undefined {
  return (record as { election?: string }).election;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
