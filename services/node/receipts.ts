/**
 * Receipts (C2SP tlog-proof) for entries at a node's latest signed
 * checkpoint, built from its tiles. Every node that serves the log
 * (sequencer, standby, mirror) hands them out through this one function.
 */
import { proveInclusions, verifyInclusion, type TreeHead } from '../../ledger/merkle.js';
import type { Hash } from '../../ledger/hash.js';
import { formatReceipts } from '../../ledger/receipt.js';
import { type TileCache } from './tile-cache.js';
import { StorageCorruptError } from '../storage/errors.js';

/** The committed, signed state that the read API serves. */
export interface PublishedHead extends TreeHead {
  /** The signed checkpoint note of this tree head. */
  checkpoint: string;
}

/**
 * An entry in the log, durable and covered by `checkpoint` (signed), as a
 * node answers a submission whose receipt is fetched later
 * (`GET /receipt/<leaf hash>`).
 */
export interface EntryIndex {
  index: number;
  leafHash: Hash;
  /** The signed checkpoint note of the first tree that holds the entry, as far as this node knows. */
  checkpoint: string;
  /** True when the entry was already in the log (idempotent resubmission). */
  duplicate: boolean;
}

/** An entry in the log and its receipt, as a node hands it out (the API answers it as JSON: see the write route). */
export interface EntryReceipt extends EntryIndex {
  /** C2SP tlog-proof receipt at `checkpoint`. */
  receipt: string;
}

/**
 * When a submitter gets its receipt: `now`, in the answer to the submission
 * (the default); `later`, by `GET /receipt/<leaf hash>`, the answer then
 * carrying the index and leaf hash only (as CT logs answer with an SCT and
 * serve the proof later). Either way the answer comes once the entry is
 * durable and covered by a signed checkpoint.
 */
export type ReceiptWhen = 'now' | 'later';

/** Whether a submission's answer carries its receipt (it does when asked for `now`). */
export function hasReceipt(answer: EntryIndex): answer is EntryReceipt {
  return typeof (answer as Partial<EntryReceipt>).receipt === 'string';
}

/**
 * Receipts for several entries at `head`, from one pass over the tiles
 * (`proveInclusions`: a hash several proofs share is read or computed once).
 * Inclusion proofs are verified against the signed root before they are
 * handed out, so corrupt storage yields StorageCorruptError, never a wrong
 * receipt. `verifyAll: false` (a just-sequenced batch) checks the first and
 * last proofs only: its proofs come from the tiles the sequencer just wrote
 * and from partial tiles checked against the head at start-up, and a
 * verification costs ~log2(n) hashes per entry on the write path's hot loop.
 */
export async function receiptsAt(
  tiles: TileCache,
  head: PublishedHead,
  leaves: ReadonlyArray<{ index: number; leafHash: Hash }>,
  opts: { duplicate?: boolean; verifyAll?: boolean } = {},
): Promise<EntryReceipt[]> {
  const { size, root, checkpoint } = head;
  const verifyAll = opts.verifyAll ?? true;
  if (leaves.length === 0) return [];
  const proofs = await tiles.withHashes(size, (r) =>
    proveInclusions(
      leaves.map((l) => l.index),
      size,
      r,
    ),
  );
  leaves.forEach(({ index, leafHash }, i) => {
    if (!verifyAll && i !== 0 && i !== leaves.length - 1) return;
    try {
      verifyInclusion(leafHash, index, size, root, proofs[i]!);
    } catch {
      throw new StorageCorruptError(
        `inclusion proof for ${index} at ${size} does not verify: stored tiles are corrupt`,
      );
    }
  });
  const receipts = formatReceipts(
    checkpoint,
    leaves.map(({ index }, i) => ({ index, proof: proofs[i]! })),
  );
  const duplicate = opts.duplicate ?? false;
  return leaves.map(({ index, leafHash }, i) => ({
    index,
    leafHash,
    receipt: receipts[i]!,
    checkpoint,
    duplicate,
  }));
}
