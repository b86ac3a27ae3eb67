/**
 * The witness's side of C2SP tlog-witness v1.0.0 (https://c2sp.org/tlog-witness),
 * pure: the `add-checkpoint` request body, and the decision a witness makes
 * on it against the latest checkpoint it cosigned for that log. Storage,
 * atomicity and the transport are the caller's (services/witness/), and so
 * is how each refusal is answered.
 *
 * §add-checkpoint, in the order this checks: the origin must be a log the
 * witness knows (else `unknown_log`); a signature by that log's key must
 * verify (else `unverified`; signatures by unknown keys are ignored); the
 * old size must not exceed the checkpoint's (`old_size_too_large`); it must
 * equal the size the witness last cosigned, 0 if none (`size_mismatch`,
 * naming that size); the proof must be empty for old size 0, and otherwise
 * an RFC 6962 §2.1.2 consistency proof from the cosigned root
 * (`bad_proof`); at equal sizes the roots must be identical
 * (`root_mismatch`).
 */
import { equalBytes, fromBase64, toBase64 } from './bytes.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { MalformedError, ProofError, UrnaError } from './errors.js';
import { HASH_SIZE, type Hash } from './hash.js';
import { verifyConsistency } from './merkle.js';
import {
  formatSignatureLine,
  openNote,
  parseNote,
  signText,
  type NoteSigner,
  type NoteVerifier,
} from './note.js';

/** Most consistency proof lines a client may send (§add-checkpoint). */
export const MAX_PROOF_LINES = 63;

/** An `add-checkpoint` request: the old size line, the proof lines, a blank line, the checkpoint (a signed note). */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Hash[];
  /** The signed checkpoint note, as sent. */
  checkpoint: string;
}

/** What a witness holds for one log: the latest checkpoint it cosigned. */
export interface WitnessedCheckpoint {
  size: number;
  root: Hash;
}

/**
 * Parses an `add-checkpoint` request body. Throws MalformedError for
 * anything the spec does not allow: a missing or non-canonical `old N`
 * line, more than 63 proof lines, a line that is not one base64 hash, a
 * missing blank line.
 */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  const lines: string[] = [];
  let at = 0;
  // "Each line MUST terminate in a newline character": the header lines up to the empty one.
  for (;;) {
    const nl = body.indexOf('\n', at);
    if (nl < 0) throw new MalformedError('add-checkpoint: expected an empty line before the checkpoint');
    const line = body.slice(at, nl);
    at = nl + 1;
    if (line === '') break;
    lines.push(line);
    if (lines.length > 1 + MAX_PROOF_LINES)
      throw new MalformedError(`add-checkpoint: more than ${MAX_PROOF_LINES} consistency proof lines`);
  }
  const m = /^old (0|[1-9][0-9]{0,15})$/.exec(lines[0] ?? '');
  if (!m)
    throw new MalformedError(
      'add-checkpoint: the first line must be "old <size>" (decimal, no leading zeroes)',
    );
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw new MalformedError('add-checkpoint: old size out of range');
  const proof = lines.slice(1).map((line, i) => {
    const hash = /^[A-Za-z0-9+/]{43}=$/.test(line) ? fromBase64(line) : null;
    if (!hash || hash.length !== HASH_SIZE)
      throw new MalformedError(`add-checkpoint: proof line ${i + 1} is not a base64 SHA-256 hash`);
    return hash;
  });
  const checkpoint = body.slice(at);
  if (checkpoint === '') throw new MalformedError('add-checkpoint: no checkpoint after the empty line');
  return { oldSize, proof, checkpoint };
}

/** The request body for `req` (what a log sends). */
export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  if (req.proof.length > MAX_PROOF_LINES) throw new RangeError('formatAddCheckpoint: too many proof lines');
  return `old ${req.oldSize}\n${req.proof.map((h) => toBase64(h) + '\n').join('')}\n${req.checkpoint}`;
}

/** Why a witness refuses to cosign; `code` is stable. */
export class WitnessRefusal extends UrnaError {
  declare readonly code: WitnessRefusalCode;
  /** For `size_mismatch` and `root_mismatch`: the size of the latest checkpoint the witness cosigned. */
  readonly size: number | null;
  constructor(code: WitnessRefusalCode, message: string, size: number | null = null) {
    super(code, message);
    this.size = size;
  }
}

/** Codes of {@link WitnessRefusal}, in the order the witness checks them. */
export const WITNESS_REFUSAL_CODES = [
  'malformed',
  'unknown_log',
  'unverified',
  'old_size_too_large',
  'size_mismatch',
  'bad_proof',
  'root_mismatch',
] as const;
export type WitnessRefusalCode = (typeof WITNESS_REFUSAL_CODES)[number];

/** An accepted request: the checkpoint to cosign (its text) and what the witness holds after. */
export interface WitnessAccepted {
  origin: string;
  checkpoint: Checkpoint;
  /** The checkpoint's note text (the body the cosignature covers). */
  text: string;
  next: WitnessedCheckpoint;
}

/**
 * Decides `req` for a witness that knows `logs` (verifier keys by origin)
 * and holds `held(origin)` (null: it never cosigned that log). Pure: the
 * caller persists `next` atomically with this check before answering.
 * Returns the accepted checkpoint, or a WitnessRefusal (never throws one).
 */
export function decideAddCheckpoint(
  req: AddCheckpointRequest,
  logs: (origin: string) => NoteVerifier | undefined,
  held: (origin: string) => WitnessedCheckpoint | null,
): WitnessAccepted | WitnessRefusal {
  let text: string;
  try {
    text = parseNote(req.checkpoint).text;
  } catch (e) {
    return new WitnessRefusal('malformed', `checkpoint: ${(e as Error).message}`);
  }
  const origin = text.slice(0, text.indexOf('\n'));
  const verifier = logs(origin);
  if (!verifier) return new WitnessRefusal('unknown_log', `unknown log ${JSON.stringify(origin)}`);
  let checkpoint: Checkpoint;
  try {
    // Signatures by unknown keys are ignored; one by the log's key must verify.
    openNote(req.checkpoint, [verifier]);
    checkpoint = parseCheckpoint(text);
  } catch (e) {
    if (e instanceof MalformedError) return new WitnessRefusal('malformed', `checkpoint: ${e.message}`);
    return new WitnessRefusal('unverified', `no valid signature by the key of ${origin}`);
  }
  if (req.oldSize > checkpoint.size)
    return new WitnessRefusal(
      'old_size_too_large',
      `old size ${req.oldSize} exceeds the checkpoint's ${checkpoint.size}`,
    );
  const mine = held(origin);
  const mySize = mine?.size ?? 0;
  if (req.oldSize !== mySize)
    return new WitnessRefusal(
      'size_mismatch',
      `old size ${req.oldSize}, but the witness holds ${mySize}`,
      mySize,
    );
  const next = { size: checkpoint.size, root: checkpoint.root };
  if (req.oldSize === 0) {
    if (req.proof.length !== 0)
      return new WitnessRefusal('bad_proof', 'the proof must be empty when the old size is 0');
    return { origin, checkpoint, text, next };
  }
  if (req.oldSize === checkpoint.size) {
    if (req.proof.length !== 0)
      return new WitnessRefusal('bad_proof', 'the proof must be empty at equal sizes');
    if (!equalBytes(mine!.root, checkpoint.root))
      return new WitnessRefusal(
        'root_mismatch',
        `another root at size ${mySize} than the one cosigned`,
        mySize,
      );
    return { origin, checkpoint, text, next };
  }
  try {
    verifyConsistency(req.oldSize, checkpoint.size, mine!.root, checkpoint.root, req.proof);
  } catch (e) {
    if (e instanceof ProofError)
      return new WitnessRefusal(
        'bad_proof',
        `the consistency proof from ${req.oldSize} to ${checkpoint.size} does not verify`,
      );
    throw e;
  }
  return { origin, checkpoint, text, next };
}

/** The cosignature line (tlog-cosignature v1, ending in a newline) of `cosigner` over the checkpoint text. */
export function cosignLine(text: string, cosigner: NoteSigner): string {
  return formatSignatureLine(signText(text, cosigner));
}
