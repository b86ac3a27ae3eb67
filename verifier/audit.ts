/**
 * The audit of a whole log by replay: every entry read through the
 * authenticated reader (each bundle against the tree of a checkpoint
 * verified with the log key and, with a policy, its witness quorum), every
 * signature checked, every record re-run through the rules the sequencer
 * admitted it with (ledger/rules.ts), so that every `tally` record is
 * recomputed with the counting function and compared field by field, and
 * every report's district, contest and protocol hash is checked, and the
 * tree's root compared with the checkpoint's. Then, per election, the count
 * at the checkpoint and the discrepancy list (verifier/snapshot.ts).
 *
 * An entry that is not the log's stops the audit with NotVerifiedError
 * naming its index. A replay can be saved as it goes and resumed.
 */
import { toBase64 } from '../ledger/bytes.js';
import type { Discrepancy } from '../ledger/results.js';
import { stateKey, type ElectionCounts, type ElectionPhase, type TallyState } from '../ledger/rules.js';
import type { TallyBody } from '../ledger/record.js';
import type { LogReader } from './reader.js';
import {
  ReplayError,
  Replayer,
  replayWork,
  type Decoder,
  type Prover,
  type ReplaySnapshot,
} from './replayer.js';
import { countSnapshot } from './snapshot.js';
import { NotVerifiedError, verifiedCheckpoint, type CheckpointVerdict, type Trust } from './verify.js';

/** One election as the audit found it. */
export interface ElectionAudit {
  id: string;
  title: string;
  phase: ElectionPhase;
  counts: ElectionCounts;
  /** The latest `tally` record (each was recomputed by the replay and matched), or null. */
  latestTally: TallyState | null;
  /** The tally the counting function gives at the audited checkpoint (null before voting closed). */
  tally: TallyBody | null;
  discrepancies: Discrepancy[];
}

/** What an audit proved. */
export interface AuditReport {
  v: 1;
  /** The checkpoint audited. */
  log: { origin: string; size: number; root: string; cosigned: string[]; quorum: boolean | null };
  /** Entries replayed in this run (the rest came from a saved replay). */
  replayed: number;
  /** Where this run started (0, or the saved replay's size). */
  resumedFrom: number;
  elections: ElectionAudit[];
}

/** Options of {@link auditLog}. */
export interface AuditOptions {
  /** How entries are decoded and signature-checked (default: inline; a service passes its worker pool). */
  decode?: Decoder;
  /** How proofs are verified ahead of the rules (default: inline, in batches; a service passes its worker pool). */
  prove?: Prover;
  /** A saved replay to continue from (see {@link Replayer.save}). */
  resume?: ReplaySnapshot;
  /** After each chunk: entries replayed, of the checkpoint's size. */
  onProgress?: (size: number, of: number) => void;
  /** About every `saveEvery` entries, the replay so far (to save it). */
  onSave?: (snapshot: ReplaySnapshot) => void;
  /** Default 65,536. */
  saveEvery?: number;
  /** The discrepancy margin (ledger/results.ts), default its DEFAULT_DISCREPANCY_MARGIN. */
  margin?: number;
  /** The checkpoint to audit (default: the source's latest, verified with `trust`). */
  checkpoint?: CheckpointVerdict;
}

/**
 * Audits the log behind `reader` up to its latest checkpoint (or
 * `opts.checkpoint`). Throws NotVerifiedError for a checkpoint that does not
 * verify, a saved replay ahead of the checkpoint, or an entry that is not the
 * log's (with its index); LogError when the source does not answer.
 */
export async function auditLog(
  reader: LogReader,
  trust: Trust,
  opts: AuditOptions = {},
): Promise<AuditReport> {
  const cp = opts.checkpoint ?? (await verifiedCheckpoint(reader, trust));
  const replayerOpts = { logKey: trust.logKey, ...replayWork(opts) };
  const replayer = opts.resume ? Replayer.resume(replayerOpts, opts.resume) : new Replayer(replayerOpts);
  const resumedFrom = replayer.size;
  if (resumedFrom > cp.checkpoint.size)
    throw new NotVerifiedError(
      { code: 'stale', size: cp.checkpoint.size, seen: resumedFrom },
      `the saved replay has ${resumedFrom} entries, more than the source's checkpoint (size ${cp.checkpoint.size}): another log, or a fork`,
    );
  const saveEvery = Math.max(1, opts.saveEvery ?? 65_536);
  let saved = resumedFrom;
  try {
    await replayer.catchUp(reader, cp.head, (size, of) => {
      opts.onProgress?.(size, of);
      if (opts.onSave && size - saved >= saveEvery && size < of) {
        opts.onSave(replayer.save());
        saved = size;
      }
    });
  } catch (e) {
    if (e instanceof ReplayError) throw new NotVerifiedError({ code: 'replay' }, e.message, { cause: e });
    throw e;
  }
  opts.onSave?.(replayer.save());
  const elections: ElectionAudit[] = [];
  for (const [key] of replayer.state.entries()) {
    if (!key.startsWith('election/')) continue;
    const s = countSnapshot(replayer, key.slice('election/'.length), cp.head, cp.note, {
      ...(opts.margin !== undefined ? { margin: opts.margin } : {}),
    });
    elections.push({
      id: s.election.id,
      title: s.election.title,
      phase: s.election.phase,
      counts: s.election.counts,
      latestTally: (replayer.state.read(stateKey.tally(s.election.id)) as TallyState | undefined) ?? null,
      tally: s.tally,
      discrepancies: s.results.discrepancies,
    });
  }
  const c = cp.checkpoint;
  return {
    v: 1,
    log: { origin: c.origin, size: c.size, root: toBase64(c.root), cosigned: cp.cosigned, quorum: cp.quorum },
    replayed: c.size - resumedFrom,
    resumedFrom,
    elections,
  };
}
