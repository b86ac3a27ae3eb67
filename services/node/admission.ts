/**
 * The hook where a log's rules plug into the sequencer (and into every node
 * that replays the journal): per-entry preparation off the event loop, then
 * per-batch admission in sequence order. `P` is what preparation makes of an
 * entry (the election rules: the decoded, signature-checked record); the
 * nodes pass it through without looking at it.
 */
import type { UrnaError } from '../../ledger/errors.js';

/** Returned by BatchAdmission.admit: not yet decidable; the entry waits for the next batch. */
export const DEFER = Symbol('defer');

/** An entry with what `Admission.prepare` made of it. */
export interface Prepared<P> {
  entry: Uint8Array;
  prepared: P;
}

/** Admission of the entries of one batch, in sequence order (the election rules plug in here). */
export interface BatchAdmission<P> {
  /**
   * Admits `entry` at `index`, or returns why not, or DEFER. Sees the
   * entries admitted before it in this batch. Synchronous: what it reads was
   * fetched by `Admission.begin`.
   */
  admit(entry: Uint8Array, prepared: P, index: number): UrnaError | null | typeof DEFER;
  /** Key/values to commit atomically with the batch (projections). */
  extra(): Array<{ key: string; value: Uint8Array }>;
}

/**
 * The hook where the log's rules plug in. `prepare` runs once per
 * submission before it joins the pool (decoding and signature checks: the
 * expensive, state-free part, off the event loop); `begin` runs once per
 * batch and reads, in one batched read, the state the batch's entries need.
 */
export interface Admission<P = unknown> {
  /** Checks an entry by itself; throws its rejection. Its result is handed to `admit`. */
  prepare(entry: Uint8Array): Promise<P>;
  /** Starts a batch over the tree of `committedSize` entries. */
  begin(batch: ReadonlyArray<Prepared<P>>, committedSize: number): Promise<BatchAdmission<P>>;
}

/** Admits any non-empty entry (a log of opaque entries, without election rules). */
export const acceptAll: Admission<null> = {
  prepare: async () => null,
  begin: async () => ({ admit: () => null, extra: () => [] }),
};
