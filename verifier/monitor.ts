/**
 * A monitor's check, browser-safe: every checkpoint it is shown (from the
 * log, a mirror, a cache, a witness, a peer) is verified with the log key
 * and checked against the largest one seen so far; two that cannot both be
 * true of one append-only tree raise an alarm whose evidence proves the fork
 * with the log key alone (ledger/alarm.ts).
 *
 * The check never trusts a served proof: the root at the smaller size is
 * computed from tiles authenticated under the larger checkpoint, read
 * through a LogReader from any source that can serve that tree. A
 * checkpoint whose tree no source can serve is compared by size and root
 * alone (a same-size fork is still proven; otherwise it waits, and is
 * reported as unchecked).
 */
import { equalBytes, toHex } from '../ledger/bytes.js';
import { openCheckpoint, type Checkpoint } from '../ledger/checkpoint.js';
import { formatAlarm, type SplitViewEvidence } from '../ledger/alarm.js';
import type { Hash } from '../ledger/hash.js';
import type { TreeHead } from '../ledger/merkle.js';
import { parseVerifierKey, type NoteVerifier } from '../ledger/note.js';
import type { LogReader } from './reader.js';

/** A checkpoint as seen: the note, where, and its parsed form. */
export interface Sighting {
  note: string;
  seen: string;
  checkpoint: Checkpoint;
}

/** What `observe` concluded. */
export type Observation =
  | { kind: 'known' } // a checkpoint already seen (same size and root)
  | { kind: 'older' } // smaller than the largest, and consistent with it
  | { kind: 'newer' } // larger, and consistent: now the largest
  | { kind: 'unchecked'; why: string } // larger, but no source could serve its tree's tiles
  | { kind: 'alarm'; evidence: SplitViewEvidence; text: string };

export class CheckpointWatcher {
  readonly verifier: NoteVerifier;
  #largest: Sighting | null = null;
  /** Roots seen per size (hex), with a sighting of each. */
  readonly #bySize = new Map<number, Map<string, Sighting>>();

  constructor(logKey: string) {
    this.verifier = parseVerifierKey(logKey.trim());
  }

  /** The largest consistent checkpoint seen. */
  get largest(): Sighting | null {
    return this.#largest;
  }

  /**
   * Verifies `note` (throws the ledger's errors for a note the log key did
   * not sign) and checks it against what was seen, reading tiles through
   * `readers` (tried in order) where a root at a smaller size is needed.
   */
  async observe(note: string, seen: string, readers: readonly LogReader[]): Promise<Observation> {
    const { checkpoint } = openCheckpoint(note, this.verifier);
    const s: Sighting = { note, seen, checkpoint };
    const atSize = this.#bySize.get(checkpoint.size);
    const rootHex = toHex(checkpoint.root);
    if (atSize?.has(rootHex)) return { kind: 'known' };
    const other = atSize && [...atSize.values()][0];
    if (other) return this.#alarm(other, s, null, null);
    const largest = this.#largest;
    if (!largest) {
      this.#record(s);
      this.#largest = s;
      return { kind: 'newer' };
    }
    const [small, large] = checkpoint.size < largest.checkpoint.size ? [s, largest] : [largest, s];
    const head: TreeHead = { size: large.checkpoint.size, root: large.checkpoint.root };
    const computed = await rootAndProof(readers, small.checkpoint.size, head);
    if (!computed) {
      if (large === s) return { kind: 'unchecked', why: `no source serves the tree of size ${head.size}` };
      return { kind: 'unchecked', why: `no source serves the tree of size ${head.size} any more` };
    }
    if (!equalBytes(computed.root, small.checkpoint.root))
      return this.#alarm(small, large, computed.root, computed.proof);
    this.#record(s);
    if (large === s) {
      this.#largest = s;
      return { kind: 'newer' };
    }
    return { kind: 'older' };
  }

  #record(s: Sighting): void {
    let m = this.#bySize.get(s.checkpoint.size);
    if (!m) this.#bySize.set(s.checkpoint.size, (m = new Map()));
    m.set(toHex(s.checkpoint.root), s);
  }

  #alarm(a: Sighting, b: Sighting, rootAt: Hash | null, proof: Hash[] | null): Observation {
    const evidence: SplitViewEvidence = { notes: [a.note, b.note], seen: [a.seen, b.seen], rootAt, proof };
    return { kind: 'alarm', evidence, text: formatAlarm(evidence) };
  }
}

/** The root at `size` of the tree `head` and the consistency proof to it, from the first reader that authenticates them. */
async function rootAndProof(
  readers: readonly LogReader[],
  size: number,
  head: TreeHead,
): Promise<{ root: Hash; proof: Hash[] } | null> {
  for (const r of readers) {
    try {
      const root = await r.rootAt(size, head);
      const proof = await r.consistencyProof(size, head.size, head);
      return { root, proof };
    } catch {
      // this source does not serve that tree (or lies about it): try the next
    }
  }
  return null;
}
