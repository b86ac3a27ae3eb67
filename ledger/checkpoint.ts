/**
 * Checkpoints, C2SP tlog-checkpoint v1.0.0: https://c2sp.org/tlog-checkpoint.
 *
 * A checkpoint is the text of a signed note: the log's origin, the tree size
 * in decimal, the base64 RFC 9162 root hash, then optional extension lines.
 * A log signs it with a key whose name is the origin.
 */
import { checkIndex, equalBytes, fromBase64, toBase64 } from './bytes.js';
import { MalformedError, UnverifiedNoteError } from './errors.js';
import type { Hash } from './hash.js';
import { HASH_SIZE } from './hash.js';
import type { NoteSigner, NoteVerifier, OpenedNote } from './note.js';
import { openNote, signNote } from './note.js';

/** A log's tree head at one size. */
export interface Checkpoint {
  /** The log identity; equal to the log's key name. */
  origin: string;
  /** Number of leaves. */
  size: number;
  /** RFC 9162 root hash at `size`. */
  root: Hash;
  /** Opaque extension lines, each non-empty (their use is NOT RECOMMENDED by the spec). */
  extensions: string[];
}

// eslint-disable-next-line no-control-regex
const BAD_LINE_CHAR = /[\u0000-\u001F]|[\uD800-\uDFFF]/u; // control characters, unpaired surrogates
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * The note text of a checkpoint: origin, size, base64 root and each extension
 * line, every line ending in a newline (tlog-checkpoint §Note text). Throws
 * TypeError/RangeError for an empty origin or extension line, a line holding
 * a newline or other control character, a size that is not a non-negative
 * safe integer, or a root that is not 32 bytes.
 */
export function formatCheckpoint(c: Checkpoint): string {
  checkLine('checkpoint origin', c.origin);
  checkIndex('checkpoint size', c.size);
  if (!(c.root instanceof Uint8Array)) throw new TypeError('checkpoint root: expected a Uint8Array');
  if (c.root.length !== HASH_SIZE) throw new RangeError('checkpoint root: expected 32 bytes');
  for (const ext of c.extensions) checkLine('checkpoint extension', ext);
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].map((line) => line + '\n').join('');
}

/**
 * Parses checkpoint note text strictly (tlog-checkpoint §Note text): at
 * least three newline-terminated lines; a non-empty origin; the size in ASCII
 * decimal without leading zeroes (except "0") and at most
 * Number.MAX_SAFE_INTEGER; the root as canonical base64 of exactly 32 bytes;
 * non-empty extension lines. Control characters and unpaired surrogates are
 * rejected anywhere (signed-note §Format). Throws MalformedError otherwise.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw new MalformedError('checkpoint: not a string');
  if (!text.endsWith('\n')) throw new MalformedError('checkpoint: must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new MalformedError('checkpoint: fewer than three lines');
  for (const line of lines) {
    // "a sequence of at least three non-empty lines"; extension lines "MUST be non-empty".
    if (line === '') throw new MalformedError('checkpoint: empty line');
    if (BAD_LINE_CHAR.test(line)) throw new MalformedError('checkpoint: invalid character');
  }
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  // "ASCII decimal ... with no leading zeroes (unless the tree is empty, in which case the tree size is 0)".
  if (!DECIMAL.test(sizeText))
    throw new MalformedError('checkpoint: size must be decimal without leading zeroes');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new MalformedError('checkpoint: size beyond the safe integer range');
  const root = fromBase64(rootText);
  if (root.length !== HASH_SIZE) throw new MalformedError('checkpoint: root must be 32 bytes');
  return { origin, size, root, extensions };
}

/**
 * Formats `c` and signs it as a note by the log's `signer`, then by any
 * `cosigners`. Throws RangeError if the signer's name is not the origin ("The
 * log's key name in its signature line SHOULD match the origin line",
 * tlog-checkpoint §Signatures; openCheckpoint requires it), and whatever
 * formatCheckpoint and signNote throw.
 */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner, cosigners: NoteSigner[] = []): string {
  const text = formatCheckpoint(c);
  if (signer.name !== c.origin) throw new RangeError('signCheckpoint: signer name must equal the origin');
  return signNote(text, [signer, ...cosigners]);
}

/**
 * Opens a signed checkpoint: the note must carry a valid signature by
 * `logVerifier`, and the checkpoint's origin must equal the log's key name.
 * Signatures by `otherVerifiers` (e.g. witnesses) are verified too; others
 * are ignored.
 *
 * Throws MalformedError for a malformed note or checkpoint text, or an origin
 * other than `logVerifier.name`; SignatureError for a known key's bad
 * signature; UnverifiedNoteError if the log's signature is missing (even if
 * another known key signed); RangeError for ambiguous verifiers.
 */
export function openCheckpoint(
  note: string,
  logVerifier: NoteVerifier,
  otherVerifiers: readonly NoteVerifier[] = [],
): { checkpoint: Checkpoint; note: OpenedNote } {
  const opened = openNote(note, [logVerifier, ...otherVerifiers]);
  const bylog = opened.verified.some(
    (s) => s.name === logVerifier.name && equalBytes(s.keyId, logVerifier.keyId),
  );
  if (!bylog) throw new UnverifiedNoteError(opened.text, 'checkpoint has no signature by the log');
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint.origin !== logVerifier.name) {
    throw new MalformedError('checkpoint origin does not match the log key name');
  }
  return { checkpoint, note: opened };
}

function checkLine(what: string, line: string): void {
  if (typeof line !== 'string') throw new TypeError(`${what}: expected a string`);
  if (line === '') throw new RangeError(`${what}: must be non-empty`);
  if (BAD_LINE_CHAR.test(line)) throw new RangeError(`${what}: control character or unpaired surrogate`);
}
