/**
 * The errors of the ledger core. Callers branch on `code` or on the class,
 * never on message text. Codes are stable: they appear in API error bodies
 * (`{"error":{"code":...}}`, see DESIGN.md "Errors") and CLI output.
 */

/** Base class of every error the ledger core throws on purpose. */
export class UrnaError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that does not parse: a note, checkpoint, tile path, bundle, key or proof text. */
export class MalformedError extends UrnaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed', message, options);
  }
}

/**
 * A proof that does not verify. Deliberately opaque (as in golang.org/x/mod
 * sumdb/tlog): it says that the proof failed, not which hash was wrong.
 */
export class ProofError extends UrnaError {
  constructor(message = 'proof does not verify') {
    super('bad_proof', message);
  }
}

/** A signature by a known key that does not verify: the whole note is rejected. */
export class SignatureError extends UrnaError {
  constructor(message: string) {
    super('bad_signature', message);
  }
}

/**
 * A signed note carrying no signature by any of the given verifiers. `note`
 * holds the text so a caller can still show it (sumdb/note's UnverifiedNoteError).
 */
export class UnverifiedNoteError extends UrnaError {
  readonly text: string;
  constructor(text: string, message = 'note has no signature by a known key') {
    super('unverified', message);
    this.text = text;
  }
}

/**
 * Two views of a log that cannot both be true: checkpoints that are
 * inconsistent, or a new checkpoint that is smaller than one already seen.
 */
export class InconsistentError extends UrnaError {
  constructor(message: string) {
    super('inconsistent', message);
  }
}

/** A request for something outside the tree: index >= size, size beyond the tree. */
export class OutOfRangeError extends UrnaError {
  constructor(message: string) {
    super('out_of_range', message);
  }
}
