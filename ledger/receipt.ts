/**
 * Receipts: C2SP tlog-proof v1 (https://c2sp.org/tlog-proof), an
 * offline-verifiable proof that an entry is in a log, as seen by witnesses.
 *
 *     c2sp.org/tlog-proof@v1
 *     extra <base64>            (optional, unauthenticated)
 *     index <N>
 *     <base64 hash>             (inclusion path, zero or more lines)
 *
 *     <signed checkpoint note, verbatim>
 */
import { checkIndex, equalBytes, fromBase64, toBase64 } from './bytes.js';
import type { Checkpoint } from './checkpoint.js';
import { openCheckpoint, parseCheckpoint } from './checkpoint.js';
import { MalformedError, UnverifiedNoteError } from './errors.js';
import type { Hash } from './hash.js';
import { HASH_SIZE, leafHash } from './hash.js';
import { verifyInclusion } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { parseNote } from './note.js';

/** The first line of a receipt (tlog-proof §Format). */
export const RECEIPT_HEADER = 'c2sp.org/tlog-proof@v1';

/**
 * Most inclusion path hashes accepted: a path is at most ceil(log2(size))
 * long, and sizes are safe integers (< 2^53).
 */
export const MAX_PROOF_HASHES = 64;

/** A decoded tlog-proof. */
export interface Receipt {
  /** Zero-based index of the entry in the log. */
  index: number;
  /** RFC 9162 inclusion path, from the leaf's sibling up to the root's child. */
  proof: Hash[];
  /** The signed checkpoint note, verbatim (log signature and any cosignatures). */
  checkpoint: string;
  /** Opaque extra data; NOT authenticated (tlog-proof §Format). Absent when empty. */
  extra?: Uint8Array;
}

/** What a receipt proves inclusion of: the entry bytes, or its RFC 9162 leaf hash (the ballot tracker). */
export type ReceiptSubject = { entry: Uint8Array } | { leafHash: Hash };

/** Options of {@link verifyReceipt}. */
export interface VerifyReceiptOptions {
  /** Witness cosignature verifiers (type 0x04, see cosignature.ts). */
  witnesses?: readonly NoteVerifier[];
  /** How many of `witnesses` must have cosigned; defaults to all of them. */
  quorum?: number;
}

/** The outcome of a successful {@link verifyReceipt}. */
export interface VerifiedReceipt {
  receipt: Receipt;
  checkpoint: Checkpoint;
  /** Names of the given witnesses whose cosignature verified, in note order. */
  verifiedWitnesses: string[];
}

/**
 * Formats a receipt (tlog-proof §Format). `extra` is written only when
 * present and non-empty ("If no extra data is present, this line is
 * omitted"). Throws TypeError/RangeError for an index that is not a
 * non-negative safe integer, a proof hash that is not 32 bytes, more than
 * MAX_PROOF_HASHES hashes, or a checkpoint that is not a signed checkpoint
 * note (the cause is the MalformedError).
 */
export function formatReceipt(r: Receipt): string {
  return formatReceipts(r.checkpoint, [r])[0]!;
}

/**
 * Formats the receipts of several entries at one checkpoint, each exactly
 * as {@link formatReceipt} would: the checkpoint is checked once, and a
 * proof hash shared by several proofs (the same Hash object, as
 * `proveInclusions` gives them) is encoded once. Throws as formatReceipt.
 */
export function formatReceipts(
  checkpoint: string,
  receipts: ReadonlyArray<Omit<Receipt, 'checkpoint'>>,
): string[] {
  try {
    parseCheckpoint(parseNote(checkpoint).text);
  } catch (cause) {
    throw new RangeError('receipt checkpoint: not a signed checkpoint note', { cause });
  }
  const lines = new Map<Hash, string>();
  const tail = '\n' + checkpoint;
  return receipts.map((r) => {
    checkIndex('receipt index', r.index);
    if (r.proof.length > MAX_PROOF_HASHES) throw new RangeError('receipt proof: too many hashes');
    let out = RECEIPT_HEADER + '\n';
    if (r.extra !== undefined && r.extra.length > 0) out += `extra ${toBase64(r.extra)}\n`;
    out += `index ${r.index}\n`;
    for (const h of r.proof) {
      let line = lines.get(h);
      if (line === undefined) {
        if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
          throw new RangeError('receipt proof: hashes are 32 bytes');
        line = toBase64(h) + '\n';
        lines.set(h, line);
      }
      out += line;
    }
    return out + tail;
  });
}

/**
 * Parses a receipt strictly (tlog-proof §Format): the header line; an
 * optional `extra <base64>` line with non-empty data; `index <N>` in decimal
 * without leading zeroes (except "0") within the safe integer range; zero or
 * more canonical base64 32-byte hashes, one per line (at most
 * MAX_PROOF_HASHES); an empty line; then a signed note whose text is a
 * checkpoint (format only, signatures are not verified here). Throws
 * MalformedError otherwise.
 */
export function parseReceipt(text: string): Receipt {
  if (typeof text !== 'string') throw new MalformedError('receipt: not a string');
  let pos = 0;
  const nextLine = (): string => {
    const end = text.indexOf('\n', pos);
    if (end < 0) throw new MalformedError('receipt: truncated');
    const line = text.slice(pos, end);
    pos = end + 1;
    return line;
  };
  // "The first line MUST be the string c2sp.org/tlog-proof@v1."
  if (nextLine() !== RECEIPT_HEADER)
    throw new MalformedError('receipt: missing c2sp.org/tlog-proof@v1 header');
  let line = nextLine();
  let extra: Uint8Array | undefined;
  // "The second line MAY start with the string extra followed by a space and base64-encoded opaque extra data."
  if (line.startsWith('extra ')) {
    extra = fromBase64(line.slice('extra '.length));
    if (extra.length === 0) throw new MalformedError('receipt: empty extra data');
    line = nextLine();
  }
  // "index followed by a space and the zero-based index ... ASCII decimal with no leading zeroes".
  const m = /^index (0|[1-9][0-9]*)$/.exec(line);
  if (m === null) throw new MalformedError('receipt: expected index line');
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) throw new MalformedError('receipt: index beyond the safe integer range');
  // "zero or more non-empty lines ... one SHA-256 hash per line", then an empty line.
  const proof: Hash[] = [];
  for (line = nextLine(); line !== ''; line = nextLine()) {
    if (proof.length === MAX_PROOF_HASHES) throw new MalformedError('receipt: too many proof hashes');
    const h = fromBase64(line);
    if (h.length !== HASH_SIZE) throw new MalformedError('receipt: proof hashes must be 32 bytes');
    proof.push(h);
  }
  // "the checkpoint issued by the log is included verbatim".
  const checkpoint = text.slice(pos);
  parseCheckpoint(parseNote(checkpoint).text);
  const receipt: Receipt = { index, proof, checkpoint };
  if (extra !== undefined) receipt.extra = extra;
  return receipt;
}

/**
 * Verifies a receipt offline: parses it, opens the checkpoint with the log's
 * verifier (the log's signature is required, and its origin must be the
 * log's key name), requires cosignatures by at least `quorum` of `witnesses`,
 * then checks the RFC 9162 inclusion proof of the subject's leaf hash at the
 * receipt's index against the checkpoint's size and root. The extra data is
 * returned but not trusted.
 *
 * Throws MalformedError for a malformed receipt or checkpoint (or an origin
 * mismatch), SignatureError if a known key's signature is bad,
 * UnverifiedNoteError if the log did not sign or fewer than `quorum`
 * witnesses cosigned, whatever verifyInclusion throws for the proof
 * (ProofError), and RangeError for a quorum outside 0..witnesses.length or
 * ambiguous verifiers.
 */
export function verifyReceipt(
  receiptText: string,
  subject: ReceiptSubject,
  logVerifier: NoteVerifier,
  opts: VerifyReceiptOptions = {},
): VerifiedReceipt {
  const witnesses = opts.witnesses ?? [];
  const quorum = opts.quorum ?? witnesses.length;
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new RangeError('verifyReceipt: quorum must be an integer in 0..witnesses.length');
  }
  const leaf = 'entry' in subject ? leafHash(subject.entry) : subject.leafHash;
  const receipt = parseReceipt(receiptText);
  const { checkpoint, note } = openCheckpoint(receipt.checkpoint, logVerifier, witnesses);
  const verifiedWitnesses = note.verified
    .filter((s) => witnesses.some((w) => w.name === s.name && equalBytes(w.keyId, s.keyId)))
    .map((s) => s.name);
  if (verifiedWitnesses.length < quorum) {
    throw new UnverifiedNoteError(
      note.text,
      `checkpoint has ${verifiedWitnesses.length} of the ${quorum} witness cosignatures required`,
    );
  }
  verifyInclusion(leaf, receipt.index, checkpoint.size, checkpoint.root, receipt.proof);
  return { receipt, checkpoint, verifiedWitnesses };
}
