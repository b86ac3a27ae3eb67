/**
 * A replayer: the log's state rebuilt from its entries with the election
 * rules (ledger/rules.ts), the same function the sequencer admitted them
 * with, and its Merkle tree rebuilt beside it, so every signed checkpoint
 * it reaches is checked against the tree of the entries it replayed. The
 * counter counts from it and the audit checks with it.
 *
 * Every entry of an election log was admitted by the rules, so an entry
 * that does not decode, whose signature does not verify, or that the rules
 * refuse means the source is not the log: the replayer stops with a
 * {@link ReplayError} naming its index, and never skips it.
 */
import { equalBytes, toBase64 } from '../ledger/bytes.js';
import { UrnaError } from '../ledger/errors.js';
import { leafHash } from '../ledger/hash.js';
import { MemoryHashStore, storedHashIndex, treeHash, type TreeHead } from '../ledger/merkle.js';
import { parseVerifierKey } from '../ledger/note.js';
import { decodeRecord, type DecodedRecord } from '../ledger/record.js';
import { verifyProofItems, type ProofItem } from '../ledger/encrypted-election.js';
import {
  applyRecord,
  MemoryState,
  proofAhead,
  proofAheadKeys,
  provenAhead,
  RuleError,
  type Effects,
  type RulesContext,
} from '../ledger/rules.js';
import { TileAuthError } from '../ledger/tile-auth.js';
import { ENTRIES_LEVEL, parseEntryBundle, TILE_WIDTH, type Tile } from '../ledger/tile.js';
import type { LogReader } from './reader.js';

/** An entry that is not the log's: it does not authenticate, decode or pass the rules. */
export class ReplayError extends UrnaError {
  constructor(
    /** The first index concerned (of a bundle, when a whole bundle does not authenticate). */
    readonly index: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('not_authentic', message, options);
  }
}

/**
 * Verifies proofs records carry (ledger/rules.ts proofAhead), many at once:
 * each item's verdict, in order.
 */
export type Prover = (items: readonly ProofItem[]) => Promise<boolean[]>;

/** The portable prover: encrypted-election.ts verifyProofItems on this thread (the ballots in one batch). */
export const proveInline: Prover = async (items) => verifyProofItems(items);

/** Decodes and verifies entries (in order); rejects with the ledger's error of the first bad one. */
export type Decoder = (entries: readonly Uint8Array[]) => Promise<DecodedRecord[]>;

/** The portable decoder: ledger/record.ts decodeRecord, one after another. */
export const decodeInline: Decoder = async (entries) => entries.map((e) => decodeRecord(e));

/** How a replay's heavy work is done: decoding and signatures, and proofs (a service passes its worker pool). */
export type ReplayWork = { decode?: Decoder; prove?: Prover };

/** `work` without its absent members, to spread into options. */
export function replayWork(work: ReplayWork): ReplayWork {
  return { ...(work.decode ? { decode: work.decode } : {}), ...(work.prove ? { prove: work.prove } : {}) };
}

export interface ReplayerOptions {
  /** The log's verifier key (note format): its name is the origin, its key signs `log` records. */
  logKey: string;
  /** How entries are decoded (default {@link decodeInline}; a service passes its worker pool). */
  decode?: Decoder;
  /** Entries decoded and applied at once (default 4096). */
  chunk?: number;
  /** How a chunk's proofs are verified ahead of the rules (default {@link proveInline}; a service passes its worker pool). */
  prove?: Prover;
}

/** A replay's progress, to resume from (see {@link Replayer.save}). */
export interface ReplaySnapshot {
  size: number;
  /** The leaf hashes of entries 0 … size-1, 32 bytes each. */
  leaves: Uint8Array;
  /** The rules' state entries. */
  state: Effects;
}

export class Replayer {
  /** The rules' state after the entries replayed (values not frozen: treat them as immutable). */
  readonly state = new MemoryState({ freeze: false });
  readonly #tree = new MemoryHashStore();
  readonly #ctx: RulesContext;
  readonly #decode: Decoder;
  readonly #prove: Prover;
  readonly #chunk: number;
  /** The tree head of the last checkpoint checked. */
  #checked: TreeHead | null = null;

  /** Throws MalformedError for a bad log key. */
  constructor(opts: ReplayerOptions) {
    const key = parseVerifierKey(opts.logKey.trim());
    this.#ctx = {
      logKey: toBase64(key.publicKey),
      origin: key.name,
      rootAt: (size) => treeHash(size, this.#tree),
    };
    this.#decode = opts.decode ?? decodeInline;
    this.#prove = opts.prove ?? proveInline;
    this.#chunk = Math.max(1, opts.chunk ?? 4096);
  }

  /**
   * What a replay reached, to resume it later ({@link Replayer.resume}): the
   * leaf hashes and the state entries. Plain data (JSON once the leaves are
   * encoded); a file holding it is the auditor's own, and a resumed replay
   * still checks every later checkpoint's root against the whole tree.
   */
  save(): ReplaySnapshot {
    const leaves = new Uint8Array(32 * this.size);
    const hashes = this.#tree.readHashes(Array.from({ length: this.size }, (_, i) => storedHashIndex(0, i)));
    hashes.forEach((h, i) => leaves.set(h, 32 * i));
    return { size: this.size, leaves, state: [...this.state.entries()] };
  }

  /** A replayer continuing from `snapshot` (as {@link save} made it, for the same log key). */
  static resume(opts: ReplayerOptions, snapshot: ReplaySnapshot): Replayer {
    if (snapshot.leaves.length !== 32 * snapshot.size)
      throw new RangeError(
        `resume: ${snapshot.leaves.length} bytes of leaf hashes for ${snapshot.size} entries`,
      );
    const r = new Replayer(opts);
    for (let i = 0; i < snapshot.size; i++) r.#tree.append(snapshot.leaves.subarray(32 * i, 32 * i + 32));
    r.state.apply(snapshot.state);
    return r;
  }

  /** Entries replayed. */
  get size(): number {
    return this.#tree.size;
  }

  /** The last checkpoint's tree head checked against the replayed tree, or null. */
  get checked(): TreeHead | null {
    return this.#checked;
  }

  /** The root of the replayed tree at `size` (1 ≤ size ≤ this.size; RangeError otherwise). */
  rootAt(size: number): Uint8Array {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size)
      throw new RangeError(`rootAt: size ${size} is not within the ${this.size} entries replayed`);
    return treeHash(size, this.#tree);
  }

  /**
   * Replays `entries` as indexes size, size+1, …: decodes them (in one call
   * to the decoder), applies them in order. Throws ReplayError naming the
   * first that does not decode or that the rules refuse; the entries before
   * it stay applied.
   */
  async append(entries: readonly Uint8Array[]): Promise<void> {
    await this.#apply(entries, settle(this.#decode(entries)));
  }

  /**
   * Replays chunks of entries, in order, as {@link append} would one after
   * another, but decodes each chunk while the one before is applied: the
   * decoder's workers verify signatures while the rules run here. Stops at
   * the first error, as append does; `onChunk` is called after each chunk.
   */
  async appendAll(
    chunks: Iterable<readonly Uint8Array[]> | AsyncIterable<readonly Uint8Array[]>,
    onChunk?: () => void,
  ): Promise<void> {
    let pending: { entries: readonly Uint8Array[]; decoded: Promise<Settled> } | null = null;
    const applyPending = async () => {
      const p = pending!;
      pending = null;
      await this.#apply(p.entries, p.decoded);
      onChunk?.();
    };
    try {
      for await (const entries of chunks) {
        const next = { entries, decoded: settle(this.#decode(entries)) };
        if (pending) await applyPending();
        pending = next;
      }
    } finally {
      // Also when the chunks stop with an error: what came before it is applied (an error here is earlier, and wins).
      if (pending) await applyPending();
    }
  }

  /** Applies `entries` (indexes size, size+1, …) once decoded; on a decode failure finds which one, and why. */
  async #apply(entries: readonly Uint8Array[], settled: Promise<Settled>): Promise<void> {
    const start = this.size;
    const outcome = await settled;
    if (outcome.ok) return this.#applyAll(outcome.decoded, start);
    const decoded: DecodedRecord[] = [];
    for (const [i, e] of entries.entries()) {
      try {
        decoded.push(decodeRecord(e));
      } catch (err) {
        await this.#applyAll(decoded, start);
        throw new ReplayError(start + i, `entry ${start + i} is not a valid record: ${message(err)}`, {
          cause: err,
        });
      }
    }
    await this.#applyAll(decoded, start);
  }

  async #applyAll(decoded: readonly DecodedRecord[], start: number): Promise<void> {
    // Proofs verified ahead, many at once: those the state before the chunk
    // can check; and whenever a record becomes checkable only on the way (a
    // ballot cast after its election's key was fixed in this chunk), every
    // record from it on that the state then can check. Each verdict binds
    // what it was computed for (rules.ts provenAhead), so an earlier state is
    // as good as the record's own; the rules verify whatever has none.
    const ahead: Array<{ item: ProofItem; ok: boolean } | undefined> = [];
    const proveFrom = async (from: number) => {
      const asked: Array<[number, ProofItem]> = [];
      for (let j = from; j < decoded.length; j++) {
        if (ahead[j] || start + j < this.size) continue;
        const item = proofAhead(decoded[j]!, this.state.read);
        if (item) asked.push([j, item]);
      }
      if (asked.length === 0) return;
      const verdicts = await this.#prove(asked.map(([, item]) => item));
      asked.forEach(([j, item], k) => (ahead[j] = { item, ok: verdicts[k]! }));
    };
    await proveFrom(0);
    for (const [i, d] of decoded.entries()) {
      const index = start + i;
      if (index < this.size) continue; // applied before a decode failure
      if (!ahead[i] && proofAheadKeys(d).length > 0 && proofAhead(d, this.state.read)) await proveFrom(i);
      const a = ahead[i];
      const ctx = a ? { ...this.#ctx, ...provenAhead(d, a.item, a.ok) } : this.#ctx;
      const outcome = applyRecord(this.state.read, d, index, ctx);
      if (outcome instanceof RuleError)
        throw new ReplayError(
          index,
          `entry ${index} (${d.record.type}) is refused by the rules: ${outcome.code}: ${outcome.message}`,
        );
      this.state.apply(outcome);
      this.#tree.append(d.leafHash);
    }
  }

  /**
   * Checks that the replayed tree at `head.size` has `head.root` (a signed
   * checkpoint's). Throws ReplayError if not, RangeError if fewer entries
   * were replayed.
   */
  check(head: TreeHead): void {
    if (!equalBytes(this.rootAt(head.size), head.root))
      throw new ReplayError(
        head.size - 1,
        `the ${head.size} entries replayed do not have the checkpoint's root: the source is not the log`,
      );
    if (this.#checked === null || head.size >= this.#checked.size) this.#checked = head;
  }

  /**
   * Replays the reader's entries from `size` up to `head` (default: its
   * latest verified checkpoint) and checks the root. Entries come through
   * the authenticated reader, so a bundle that does not match the
   * checkpoint's tree stops it too (ReplayError naming the bundle's first
   * index, the reader's TileAuthError as its cause). Returns the head reached.
   */
  async catchUp(
    reader: LogReader,
    head?: TreeHead,
    onProgress?: (size: number, of: number) => void,
  ): Promise<TreeHead> {
    const to = head ?? (await reader.checkpoint()).head;
    if (to.size < this.size)
      throw new ReplayError(
        to.size,
        `the source's checkpoint (size ${to.size}) is older than the ${this.size} entries replayed`,
      );
    const chunk = this.#chunk;
    const from = this.size;
    async function* chunks(): AsyncGenerator<Uint8Array[]> {
      let batch: Uint8Array[] = [];
      for await (const { entry } of reader.entries(from, to.size, to)) {
        batch.push(entry);
        if (batch.length >= chunk) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
    try {
      await this.appendAll(chunks(), () => onProgress?.(this.size, to.size));
    } catch (e) {
      if (e instanceof TileAuthError && e.tile.level === ENTRIES_LEVEL) {
        const first = e.tile.index * TILE_WIDTH;
        const forged = await forgedEntry(reader, to, e.tile).catch(() => null);
        if (forged !== null)
          throw new ReplayError(
            forged,
            `entry ${forged} does not authenticate: its leaf hash is not the one in the checkpoint's tree (${e.message})`,
            { cause: e },
          );
        throw new ReplayError(
          Math.max(first, this.size),
          `entries ${first}–${first + e.tile.width - 1} do not authenticate: ${e.message}`,
          { cause: e },
        );
      }
      throw e;
    }
    if (this.size === from) onProgress?.(this.size, to.size);
    this.check(to);
    return to;
  }
}

/**
 * The first entry of a bundle that failed to authenticate whose leaf hash
 * differs from the authenticated tree's, or null if the bundle does not
 * even parse or every entry matches (then the bundle's framing is wrong).
 */
async function forgedEntry(reader: LogReader, head: TreeHead, tile: Tile): Promise<number | null> {
  const entries = parseEntryBundle(await reader.client.tile(tile), tile.width);
  const first = tile.index * TILE_WIDTH;
  const expected = await reader.withHashes(head, (r) =>
    r.readHashes(entries.map((_, i) => storedHashIndex(0, first + i))),
  );
  const i = entries.findIndex((entry, i) => !equalBytes(leafHash(entry), expected[i]!));
  return i < 0 ? null : first + i;
}

type Settled = { ok: true; decoded: DecodedRecord[] } | { ok: false };

/** A decoding's outcome as a value: a chunk decoded ahead never rejects unobserved. */
function settle(decoding: Promise<DecodedRecord[]>): Promise<Settled> {
  return decoding.then(
    (decoded) => ({ ok: true, decoded }),
    () => ({ ok: false }),
  );
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
