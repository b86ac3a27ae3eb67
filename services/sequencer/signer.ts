/**
 * The checkpoint signer's guard: it keeps the last checkpoint it signed and
 * refuses to sign one that is not consistent with it (DESIGN.md "Durability
 * and no forks": a log never signs two inconsistent checkpoints).
 *
 * Ed25519 signatures are deterministic (RFC 8032), and so is the checkpoint
 * text for a given (origin, size, root): re-signing a committed tree head
 * after a crash yields byte-identical notes, so a lost checkpoint write is
 * harmless.
 */
import { equalBytes } from '../../ledger/bytes.js';
import { formatCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError } from '../../ledger/errors.js';
import type { Hash } from '../../ledger/hash.js';
import { verifyConsistency, type TreeHead } from '../../ledger/merkle.js';
import { signNote, type NoteSigner } from '../../ledger/note.js';

export class CheckpointSigner {
  private last: TreeHead | null;

  /** `last` is the last checkpoint this log signed (from storage), if any. */
  constructor(
    readonly origin: string,
    private readonly signer: NoteSigner,
    last: TreeHead | null,
  ) {
    if (signer.name !== origin)
      throw new RangeError(`signer key name ${signer.name} is not the origin ${origin}`);
    this.last = last;
  }

  /** The last signed tree head. */
  get lastSigned(): TreeHead | null {
    return this.last;
  }

  /**
   * Signs the checkpoint for (size, root). `proof` is a consistency proof from
   * the last signed size to `size` (ignored when there is none to check).
   * Throws InconsistentError, and signs nothing, if the new head does not
   * extend the last one.
   */
  sign(size: number, root: Hash, proof: readonly Hash[]): string {
    const last = this.last;
    if (last) {
      if (size < last.size)
        throw new InconsistentError(`refusing to sign size ${size} < last signed ${last.size}`);
      if (size === last.size) {
        if (!equalBytes(root, last.root))
          throw new InconsistentError(`refusing to sign a second root at size ${size}`);
      } else if (last.size > 0) {
        try {
          verifyConsistency(last.size, size, last.root, root, proof);
        } catch {
          throw new InconsistentError(
            `refusing to sign size ${size}: not consistent with last signed ${last.size}`,
          );
        }
      }
    }
    const note = signNote(formatCheckpoint({ origin: this.origin, size, root, extensions: [] }), [
      this.signer,
    ]);
    this.last = { size, root };
    return note;
  }
}
