/**
 * Split-view evidence: two checkpoints signed by one log key that cannot both
 * be true of one append-only tree, in a form anyone can check with nothing
 * but the log's verifier key (docs/DESIGN.md "Monitors").
 *
 * - Same size, different roots: the two notes are the proof.
 * - Different sizes: with the two notes comes `rootAt`, the root at the
 *   smaller size of the tree the larger checkpoint signed, and an RFC 9162
 *   consistency proof from (smaller size, `rootAt`) to the larger
 *   checkpoint. The proof verifying shows that the larger tree's prefix has
 *   root `rootAt`; `rootAt` differing from the smaller checkpoint's root
 *   shows that the log signed two trees that do not extend one another.
 *   (A monitor computes both from tiles it authenticated under the larger
 *   checkpoint; where it could not read them, the alarm carries no proof
 *   and says so, and it proves nothing by itself.)
 */
import { equalBytes, fromBase64, toBase64 } from './bytes.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { MalformedError, ProofError, UrnaError } from './errors.js';
import { verifyConsistency } from './merkle.js';
import type { NoteVerifier } from './note.js';
import type { Hash } from './hash.js';

/** The first line of an alarm file (its format and version). */
export const ALARM_HEADER = 'urna/split-view-alarm/v1';

/** What an alarm carries. */
export interface SplitViewEvidence {
  /** The two signed checkpoint notes, as seen (the smaller first). */
  notes: [string, string];
  /** With different sizes: the root at the smaller size of the larger checkpoint's tree, and the proof of it. */
  rootAt: Hash | null;
  proof: Hash[] | null;
  /** Where each note was seen (free text, for people). */
  seen: [string, string];
  /** Why the proof is missing, when it is. */
  note?: string;
}

/**
 * Serialises evidence as JSON text starting with {@link ALARM_HEADER}'s
 * value in `format` (hashes in base64).
 */
export function formatAlarm(e: SplitViewEvidence): string {
  return (
    JSON.stringify(
      {
        format: ALARM_HEADER,
        notes: e.notes,
        seen: e.seen,
        rootAt: e.rootAt && toBase64(e.rootAt),
        proof: e.proof && e.proof.map(toBase64),
        ...(e.note ? { note: e.note } : {}),
      },
      null,
      2,
    ) + '\n'
  );
}

/** Parses an alarm file. Throws MalformedError when it is not one. */
export function parseAlarm(text: string): SplitViewEvidence {
  let o: { [k: string]: unknown };
  try {
    o = JSON.parse(text) as { [k: string]: unknown };
  } catch (e) {
    throw new MalformedError(`alarm: not JSON: ${(e as Error).message}`);
  }
  if (o.format !== ALARM_HEADER) throw new MalformedError(`alarm: format must be ${ALARM_HEADER}`);
  const strings = (v: unknown, what: string) => {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'string'))
      throw new MalformedError(`alarm: ${what} must be two strings`);
    return v as [string, string];
  };
  const hash = (v: unknown, what: string) => {
    if (typeof v !== 'string') throw new MalformedError(`alarm: ${what} must be base64`);
    const h = fromBase64(v);
    if (h.length !== 32) throw new MalformedError(`alarm: ${what} must be a 32-byte hash`);
    return h;
  };
  const proof = o.proof === null || o.proof === undefined ? null : o.proof;
  if (proof !== null && !Array.isArray(proof)) throw new MalformedError('alarm: proof must be a list');
  return {
    notes: strings(o.notes, 'notes'),
    seen: strings(o.seen ?? ['', ''], 'seen'),
    rootAt: o.rootAt === null || o.rootAt === undefined ? null : hash(o.rootAt, 'rootAt'),
    proof: proof && (proof as unknown[]).map((h, i) => hash(h, `proof[${i}]`)),
    ...(typeof o.note === 'string' ? { note: o.note } : {}),
  };
}

/** Why evidence does not prove a split view; `code` is stable. */
export class EvidenceError extends UrnaError {}

/**
 * Checks that `e` proves, with only `logKey`, that the log signed two
 * inconsistent trees: returns the two checkpoints (smaller first). Throws
 * EvidenceError saying why not (a note the key did not sign, two
 * checkpoints that are consistent, a missing or wrong proof).
 */
export function verifySplitView(e: SplitViewEvidence, logKey: NoteVerifier): [Checkpoint, Checkpoint] {
  const opened = e.notes.map((note, i) => {
    try {
      return openCheckpoint(note, logKey).checkpoint;
    } catch (x) {
      throw new EvidenceError(
        'unsigned',
        `checkpoint ${i + 1} is not signed by ${logKey.name}: ${(x as Error).message}`,
      );
    }
  });
  const [a, b] = opened[0]!.size <= opened[1]!.size ? [opened[0]!, opened[1]!] : [opened[1]!, opened[0]!];
  if (a.size === b.size) {
    if (equalBytes(a.root, b.root))
      throw new EvidenceError('consistent', `both checkpoints are of one tree (size ${a.size})`);
    return [a, b];
  }
  if (!e.rootAt || !e.proof)
    throw new EvidenceError(
      'no_proof',
      `sizes ${a.size} and ${b.size}: no proof of the larger tree's root at ${a.size}${e.note ? ` (${e.note})` : ''}`,
    );
  try {
    verifyConsistency(a.size, b.size, e.rootAt, b.root, e.proof);
  } catch (x) {
    if (x instanceof ProofError)
      throw new EvidenceError(
        'bad_proof',
        `the proof does not show the root at ${a.size} of the tree of size ${b.size}`,
      );
    throw x;
  }
  if (equalBytes(e.rootAt, a.root))
    throw new EvidenceError(
      'consistent',
      `the checkpoint of size ${b.size} extends the one of size ${a.size}`,
    );
  return [a, b];
}
