/**
 * The counting service (DESIGN.md "Counting"): replays an election log from
 * its first record through the authenticated reader (verifier/replayer.ts:
 * every signature, every rule, every checkpoint's root), counts with the
 * counting function (ledger/tally.ts) and the results view
 * (ledger/results.ts), and publishes each count: a snapshot in memory (for
 * `--listen`), static files (`--out`), and, with the counter's key, a signed
 * `tally` record appended to the log whenever the count changed since the
 * last one and the interval has passed, or the election went final.
 *
 * It trusts nothing it did not check: the source may be the log, a mirror
 * or a static copy of the tiles; a record that does not authenticate stops
 * it with an error naming the index.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalBytes } from '../../ledger/jcs.js';
import type { TreeHead } from '../../ledger/merkle.js';
import { signRecord } from '../../ledger/record.js';
import { LogError, type LogClient } from '../../verifier/client.js';
import { Replayer, replayWork, type Decoder, type Prover } from '../../verifier/replayer.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import type { CountSource } from './sources.js';
import { CountError, countSnapshot, type ResultSnapshot } from '../../verifier/snapshot.js';

export { CountError, countSnapshot, type ResultSnapshot };

export interface CounterOptions {
  /** Where the log is read from (sources.ts). */
  source: CountSource;
  /** The log's verifier key (note format). */
  logKey: string;
  election: string;
  /** Decodes entries (a service passes its worker pool). */
  decode?: Decoder;
  /** Verifies proofs ahead of the rules (a service passes its worker pool). */
  prove?: Prover;
  /** The counter's signing key: with it, tally records are appended through `submit`. */
  signer?: { seed: Uint8Array; key: string };
  /** Where tally records go (the log's write API). */
  submit?: LogClient;
  /** Where the static files go: `latest.json` and `<size>.json`. */
  out?: string;
  /** Least time between tally records before the election is final, in ms. */
  intervalMs?: number;
  /** Discrepancy margin (ledger/results.ts). */
  margin?: number;
  /** Each new snapshot, after the files are written. */
  onSnapshot?: (snapshot: ResultSnapshot, bytes: Uint8Array) => void | Promise<void>;
  /** Progress and events, one line each. */
  say?: (line: string) => void;
}

export class Counter {
  readonly replayer: Replayer;
  readonly #opts: CounterOptions;
  #latest: { snapshot: ResultSnapshot; bytes: Uint8Array } | null = null;
  #sizes = new Map<number, Uint8Array>();
  #lastTallyAt = -Infinity;
  /** The largest size a tally record was submitted for (it may not be in a checkpoint yet). */
  #submittedSize = 0;

  constructor(opts: CounterOptions) {
    this.#opts = opts;
    this.replayer = new Replayer({ logKey: opts.logKey, ...replayWork(opts) });
  }

  /** The newest snapshot and its JSON bytes, or null before the first count. */
  get latest(): { snapshot: ResultSnapshot; bytes: Uint8Array } | null {
    return this.#latest;
  }

  /** The snapshot bytes of the count at `size`, if this counter made one. */
  at(size: number): Uint8Array | undefined {
    return this.#sizes.get(size);
  }

  /**
   * One round: catch up to the source's latest checkpoint, count, publish,
   * and append a tally when one is due. Returns the snapshot (the previous
   * one when the checkpoint did not move).
   */
  async round(): Promise<ResultSnapshot> {
    const { note, head } = await this.#opts.source.checkpoint();
    const before = this.replayer.size;
    const started = performance.now();
    await this.#opts.source.catchUp(this.replayer, head);
    if (this.replayer.size > before) {
      const ms = performance.now() - started;
      this.#say(
        `replayed ${this.replayer.size - before} records to size ${head.size} in ${(ms / 1000).toFixed(1)} s`,
      );
    }
    if (this.#latest && this.#latest.snapshot.log.size === head.size) {
      await this.#maybeTally(this.#latest.snapshot);
      return this.#latest.snapshot;
    }
    const snapshot = this.snapshot(head, note);
    this.#checkSigner(snapshot);
    const bytes = canonicalBytes(snapshot);
    this.#latest = { snapshot, bytes };
    this.#sizes.set(head.size, bytes);
    // The 64 newest counts exactly (served as /SIZE.json without --out); a map this small evicts cheaply one at a time.
    if (this.#sizes.size > 64) this.#sizes.delete(this.#sizes.keys().next().value!);
    await this.#write(snapshot, bytes);
    await this.#opts.onSnapshot?.(snapshot, bytes);
    await this.#maybeTally(snapshot);
    return snapshot;
  }

  /** The snapshot of the state replayed, at `head` (which must be the replayed size). */
  snapshot(head: TreeHead, note: string): ResultSnapshot {
    return countSnapshot(this.replayer, this.#opts.election, head, note, {
      ...(this.#opts.margin === undefined ? {} : { margin: this.#opts.margin }),
    });
  }

  /** Throws CountError if the signer is not the election's counter. */
  #checkSigner(snapshot: ResultSnapshot): void {
    const signer = this.#opts.signer;
    const election = snapshot.election;
    if (signer && election.roles.counter !== signer.key)
      throw new CountError(
        'wrong_role',
        `the key ${signer.key} is not the counter of ${election.id} (${election.roles.counter})`,
      );
  }

  async #write(snapshot: ResultSnapshot, bytes: Uint8Array): Promise<void> {
    const out = this.#opts.out;
    if (!out) return;
    await mkdir(out, { recursive: true });
    // The immutable file first, then the pointer to it.
    await writeFile(join(out, `${snapshot.log.size}.json`), bytes);
    await writeFileAtomic(join(out, 'latest.json'), bytes, 0o644);
  }

  async #maybeTally(snapshot: ResultSnapshot): Promise<void> {
    const { signer, submit } = this.#opts;
    const tally = snapshot.tally;
    if (!signer || !submit || !tally) return;
    const changed = snapshot.election.changed ?? 0;
    const last = Math.max(snapshot.tallyRecord?.size ?? 0, this.#submittedSize);
    if (last > changed) return; // the latest tally counted every change
    const final = snapshot.election.phase === 'final';
    const now = performance.now();
    if (!final && now - this.#lastTallyAt < (this.#opts.intervalMs ?? 60_000)) return;
    const bytes = signRecord(
      { v: 1, type: 'tally', election: snapshot.election.id, body: tally },
      signer.seed,
    );
    try {
      const answer = await submit.submit(bytes);
      this.#submittedSize = tally.size;
      this.#lastTallyAt = now;
      this.#say(
        `tally at index ${answer.index} over the first ${tally.size} records${final ? ' (final)' : ''}`,
      );
    } catch (e) {
      // A record that changed the count came in after the checkpoint: count again next round.
      if (e instanceof LogError && e.code === 'outdated_tally') {
        this.#say(`tally over ${tally.size} is outdated (${e.message}); counting again`);
        return;
      }
      throw e;
    }
  }

  #say(line: string): void {
    this.#opts.say?.(line);
  }
}
