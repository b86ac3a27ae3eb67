/**
 * LogReader: reads a log from any C2SP tlog-tiles source through `fetch` —
 * the log itself, a mirror, a static copy of its tiles, a cache or CDN in
 * front of any of them — and trusts none of them: the checkpoint is
 * verified with the log's key, and every tile, entry and proof comes from
 * tiles authenticated against it by the ledger's algorithm
 * (ledger/tile-auth.ts, the one the server uses too). Browser-safe: only
 * ledger/ and the global `fetch` (through LogClient, for its retries and its
 * fallback from a partial tile that is gone to the full one, C2SP#145).
 *
 * Authenticated tiles are kept per tree head (size and root): a tile is
 * only ever trusted for the head it was checked against, so a source that
 * shows two different trees (a split view) cannot lend one's tiles to the
 * other.
 */
import { toHex } from '../ledger/bytes.js';
import { openCheckpoint, type Checkpoint } from '../ledger/checkpoint.js';
import { verifiedAhead } from '../ledger/ed25519.js';
import { InconsistentError } from '../ledger/errors.js';
import { evictOldest, evictOldestWeighed } from '../ledger/lru.js';
import type { Hash } from '../ledger/hash.js';
import {
  proveConsistency,
  proveInclusion,
  treeHash,
  type HashReader,
  type TreeHead,
} from '../ledger/merkle.js';
import { parseVerifierKey, type NoteVerifier } from '../ledger/note.js';
import {
  authenticateTiles,
  authenticationPlan,
  tileData,
  TileHashReader,
  tileKey,
  type KnownTiles,
} from '../ledger/tile-auth.js';
import { ENTRIES_LEVEL, parseEntryBundle, TILE_WIDTH, widthAtSize, type Tile } from '../ledger/tile.js';
import { LogClient, type LogClientOptions } from './client.js';

export interface LogReaderOptions {
  /** The log's verifier key (note format): checkpoints must carry its signature. */
  logKey: string;
  /** Tiles fetched at once (default 8). */
  concurrency?: number;
  /** Authenticated tiles kept per head (default 4096, 32 MiB of full hash tiles). */
  cacheTiles?: number;
  /**
   * Bytes of authenticated tiles kept per head (default 32 MiB): entry
   * bundles are cached too, and one is 256 records, up to megabytes.
   */
  cacheBytes?: number;
  /** How requests are made and retried (LogClient's options: fetch, retries, delays, timeout). */
  http?: Omit<LogClientOptions, 'logKey'>;
}

/** A verified checkpoint of the source. */
export interface VerifiedCheckpoint {
  note: string;
  checkpoint: Checkpoint;
  head: TreeHead;
}

/** An entry of the log, authenticated. */
export interface LogEntry {
  index: number;
  entry: Uint8Array;
}

/** Thrown inside a computation to say: fetch these tiles and run it again. */
class MissingTiles {
  constructor(readonly tiles: Tile[]) {}
}

/** One head's authenticated tiles by tileKey, and the bytes of their data. */
interface HeadTiles {
  tiles: Map<string, Uint8Array>;
  held: number;
}

/** Bundles authenticated and handed out together by `entries`. */
const BUNDLES_PER_STEP = 16;

export class LogReader {
  readonly verifier: NoteVerifier;
  readonly client: LogClient;
  readonly #concurrency: number;
  readonly #within: { entries: number; bytes: number };
  /** Authenticated tiles by head, then by tileKey (data at the tile's width at that head's size). */
  readonly #authentic = new Map<string, HeadTiles>();

  /** `url`: the source's URL prefix. Throws TypeError for a bad URL, MalformedError for a bad key. */
  constructor(url: string, opts: LogReaderOptions) {
    this.verifier = parseVerifierKey(opts.logKey.trim());
    this.client = new LogClient(url, opts.http ?? {});
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#within = { entries: opts.cacheTiles ?? 4096, bytes: opts.cacheBytes ?? 32 * 1024 * 1024 };
  }

  /**
   * The source's latest checkpoint, verified with the log key. Throws the
   * ledger's errors for a note without a valid signature by the key
   * (another key, a forged one) or another origin; LogError when the source
   * does not answer.
   */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    const { note } = await this.client.checkpoint();
    const { checkpoint } = await verifiedAhead(() => openCheckpoint(note, this.verifier));
    return { note, checkpoint, head: { size: checkpoint.size, root: checkpoint.root } };
  }

  /** `head`, or the source's latest verified checkpoint's. */
  async #head(head?: TreeHead): Promise<TreeHead> {
    return head ?? (await this.checkpoint()).head;
  }

  /**
   * The entries with indexes in [`from`, `to`) of the tree `head` (default:
   * the latest checkpoint), in order, each authenticated (its bundle's leaf
   * hashes against the tree). Fetches up to `concurrency` tiles at a time
   * and the next step's while the caller consumes this one. Throws
   * TileAuthError naming a tile that does not authenticate; RangeError for a
   * range outside the tree.
   */
  async *entries(from: number, to: number, head?: TreeHead): AsyncGenerator<LogEntry> {
    const tree = await this.#head(head);
    if (!(
      Number.isSafeInteger(from) &&
      Number.isSafeInteger(to) &&
      0 <= from &&
      from <= to &&
      to <= tree.size
    ))
      throw new RangeError(`entries: [${from}, ${to}) is not within the tree of size ${tree.size}`);
    if (from === to) return;
    const first = Math.floor(from / TILE_WIDTH);
    const last = Math.floor((to - 1) / TILE_WIDTH);
    const step = (b: number): Tile[] => {
      const out: Tile[] = [];
      for (let n = b; n <= Math.min(last, b + BUNDLES_PER_STEP - 1); n++)
        out.push({ level: ENTRIES_LEVEL, index: n, width: widthAtSize(ENTRIES_LEVEL, n, tree.size) });
      return out;
    };
    let next = this.#authenticate(step(first), tree);
    for (let b = first; b <= last; b += BUNDLES_PER_STEP) {
      const bundles = step(b);
      const authentic = await next;
      if (b + BUNDLES_PER_STEP <= last) {
        next = this.#authenticate(step(b + BUNDLES_PER_STEP), tree);
        next.catch(() => {}); // awaited next round; a failure is thrown there
      }
      for (const t of bundles) {
        const entries = parseEntryBundle(tileData(t, authentic), t.width);
        for (let i = 0; i < entries.length; i++) {
          const index = t.index * TILE_WIDTH + i;
          if (index >= from && index < to) yield { index, entry: entries[i]! };
        }
      }
    }
  }

  /** The entry at `index` of the tree `head` (default: the latest checkpoint), authenticated. */
  async entry(index: number, head?: TreeHead): Promise<Uint8Array> {
    for await (const e of this.entries(index, index + 1, head)) return e.entry;
    throw new RangeError(`entry ${index}: not in the tree`); // unreachable: entries checks the range
  }

  /** The inclusion proof of entry `index` in the tree of `size` (RFC 9162 §2.1.3), from tiles authenticated against `head` (default: the latest checkpoint, which must be at least `size`). */
  async inclusionProof(index: number, size: number, head?: TreeHead): Promise<Hash[]> {
    const tree = await this.#head(head);
    return this.withHashes(tree, (r) => proveInclusion(index, size, r));
  }

  /** The consistency proof from the tree of `m` to the tree of `n` (RFC 9162 §2.1.4), from authenticated tiles. */
  async consistencyProof(m: number, n: number, head?: TreeHead): Promise<Hash[]> {
    const tree = await this.#head(head);
    return this.withHashes(tree, (r) => proveConsistency(m, n, r));
  }

  /** The root of the tree of the first `size` entries, from tiles authenticated against `head`. */
  async rootAt(size: number, head?: TreeHead): Promise<Hash> {
    const tree = await this.#head(head);
    return this.withHashes(tree, (r) => treeHash(size, r));
  }

  /**
   * Checks that the tree `newer` extends `older` (the same log, nothing
   * rewritten): the consistency proof between them, computed from tiles
   * authenticated against `newer`, must verify. Throws InconsistentError
   * if it does not (a split view: both heads are the evidence).
   */
  async checkConsistent(older: TreeHead, newer: TreeHead): Promise<void> {
    if (older.size > newer.size)
      throw new InconsistentError(`size ${newer.size} is smaller than ${older.size}`);
    const root = await this.rootAt(older.size, newer);
    if (toHex(root) !== toHex(older.root))
      throw new InconsistentError(
        `the tree of size ${newer.size} holds root ${toHex(root)} at size ${older.size}, not ${toHex(older.root)}`,
      );
  }

  /**
   * Runs a synchronous computation over the tree `head` with a HashReader
   * that returns only authenticated hashes (the ledger's TileHashReader),
   * fetching what it needs. `compute` may run more than once.
   */
  async withHashes<T>(head: TreeHead, compute: (reader: HashReader) => T): Promise<T> {
    const fetched = new Map<string, Uint8Array>();
    const authentic = this.#cache(head);
    for (let round = 0; ; round++) {
      const reader = new TileHashReader(head, {
        readTiles: (tiles) => {
          const missing = tiles.filter((t) => !fetched.has(tileKey(t)));
          if (missing.length) throw new MissingTiles(missing);
          return tiles.map((t) => fetched.get(tileKey(t)));
        },
        known: this.#known(authentic),
        saveTiles: (tiles, data) => tiles.forEach((t, i) => this.#save(authentic, t, data[i]!)),
      });
      try {
        return compute(reader);
      } catch (e) {
        if (!(e instanceof MissingTiles) || round >= 8) throw e;
        const data = await this.#fetchAll(e.tiles);
        e.tiles.forEach((t, i) => fetched.set(tileKey(t), data[i]!));
      }
    }
  }

  /** Authenticates `tiles` (at their width at head.size) against `head`, fetching the plan. */
  async #authenticate(tiles: Tile[], head: TreeHead): Promise<Map<string, Uint8Array>> {
    const authentic = this.#cache(head);
    const known = this.#known(authentic);
    const plan = authenticationPlan(tiles, head.size, known).filter((t) => known(t) === undefined);
    const data = await this.#fetchAll(plan);
    const read = new Map(plan.map((t, i) => [tileKey(t), data[i]!]));
    const out = authenticateTiles(head, tiles, (t) => read.get(tileKey(t)), known);
    for (const t of plan) this.#save(authentic, t, out.get(tileKey(t))!);
    return out;
  }

  /** Fetches tiles, at most `concurrency` at once, in order. */
  async #fetchAll(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array<Uint8Array>(tiles.length);
    let next = 0;
    const worker = async () => {
      while (next < tiles.length) {
        const i = next++;
        out[i] = await this.client.tile(tiles[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, tiles.length) }, worker));
    return out;
  }

  /** The authenticated tiles of `head` (a few heads are kept). */
  #cache(head: TreeHead): HeadTiles {
    const key = `${head.size}:${toHex(head.root)}`;
    let cache = this.#authentic.get(key);
    if (!cache) {
      cache = { tiles: new Map(), held: 0 };
      this.#authentic.set(key, cache);
      evictOldest(this.#authentic, 4);
    }
    return cache;
  }

  #known({ tiles }: HeadTiles): KnownTiles {
    return (tile) => (tiles.has(tileKey(tile)) ? tileData(tile, tiles) : undefined);
  }

  #save(cache: HeadTiles, tile: Tile, data: Uint8Array): void {
    const key = tileKey(tile);
    cache.held += data.length - (cache.tiles.get(key)?.length ?? 0);
    cache.tiles.set(key, data);
    cache.held = evictOldestWeighed(cache.tiles, this.#within, cache.held, (d) => d.length);
  }
}
