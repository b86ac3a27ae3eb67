/**
 * The sequencer's view of the replicated journal (services/journal): the one
 * thing the tick calls between building a batch and committing it. Kept to
 * an interface so the sequencer does not depend on NATS, and so the
 * single-node mode (no journal) is the same tick with the step skipped.
 */
import type { Hash } from '../../ledger/hash.js';

/** One sequenced batch as the journal holds it: entries `firstIndex .. size-1` and the root at `size`. */
export interface JournalBatch {
  firstIndex: number;
  size: number;
  root: Hash;
  entries: Uint8Array[];
}

export interface Replicator {
  /** Largest encoded batch the journal accepts (`bytesOf` of the batch's entries). */
  readonly maxBatchBytes: number;
  /** Encoded size of a batch whose entries have these lengths. */
  bytesOf(entryLengths: Iterable<number>): number;
  /**
   * Appends `batch` at journal sequence `expectedLastSeq + 1` and returns
   * that sequence once the journal acknowledged it. Throws if another
   * sequencer appended there (JournalConflictError) or the journal did not
   * answer (JournalUnavailableError: outcome unknown).
   */
  append(batch: JournalBatch, expectedLastSeq: number): Promise<number>;
  /** The batches after `afterSeq` up to the journal's end, checked to start at `firstIndex`. */
  readAfter(afterSeq: number, firstIndex: number): AsyncIterable<{ seq: number; batch: JournalBatch }>;
  /** Announces a newly signed checkpoint (best effort, at most once). */
  publishCheckpoint(note: string): void;
  /** The latest checkpoint announced for the log (by any of its sequencers), as published; null if none. */
  latestCheckpoint(): Promise<string | null>;
}

/** The store's extra key holding the journal sequence of the last committed batch. */
export const JOURNAL_SEQ_KEY = 'j/seq';
