/**
 * The hook where a log's rules plug into the sequencer (and into every node
 * that replays the journal): per-entry preparation off the event loop, then
 * per-batch admission in sequence order.
 */
import type { UrnaError } from '../../ledger/errors.js';

/** Returned by BatchAdmission.admit: not yet decidable; the entry waits for the next batch. */
export const DEFER = Symbol('defer');

/** Admission of the entries of one batch, in sequence order (the election rules plug in here). */
export interface BatchAdmission {
  /**
   * Admits `entry` at `index`, or returns why not, or DEFER. Sees the
   * entries admitted before it in this batch. Synchronous: what it reads was
   * fetched by `Admission.begin`.
   */
  admit(entry: Uint8Array, prepared: unknown, index: number): UrnaError | null | typeof DEFER;
  /** Key/values to commit atomically with the batch (projections). */
  extra(): Array<{ key: string; value: Uint8Array }>;
}

/**
 * The hook where the log's rules plug in. `prepare` runs once per
 * submission before it joins the pool (decoding and signature checks: the
 * expensive, state-free part, off the event loop); `begin` runs once per
 * batch and reads, in one batched read, the state the batch's entries need.
 */
export interface Admission {
  /** Checks an entry by itself; throws its rejection. Its result is handed to `admit`. */
  prepare(entry: Uint8Array): Promise<unknown>;
  /** Starts a batch over the tree of `committedSize` entries. */
  begin(
    batch: ReadonlyArray<{ entry: Uint8Array; prepared: unknown }>,
    committedSize: number,
  ): Promise<BatchAdmission>;
}

/** Admits any non-empty entry (a log of opaque entries, without election rules). */
export const acceptAll: Admission = {
  prepare: async () => null,
  begin: async () => ({ admit: () => null, extra: () => [] }),
};
