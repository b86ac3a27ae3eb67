/**
 * The background scrub: re-verifies, at a bounded rate, every stored tile
 * and entry bundle of a node against the signed tree head it serves, so
 * corruption on disk is found by the operator's monitoring rather than by a
 * voter asking for a proof.
 *
 * One pass reads the store in index order, bypassing the node's cache,
 * through a TileCache of its own: each level-0 tile and bundle is
 * authenticated against the signed head (fetchVerified: the bundle's
 * entries hash to the level-0 tile, each full tile's root is the hash at
 * its position in its parent tile, parents up to the edge tiles, which hash
 * to the signed root), so every full tile of every level is checked once
 * per pass; and each entry's leaf-index record must give its index (the
 * index behind idempotent resubmission). The first mismatch ends the pass
 * and is reported (`onCorrupt`: the node reports itself unhealthy).
 */
import { toHex } from '../../ledger/bytes.js';
import type { Hash } from '../../ledger/hash.js';
import { leafHash } from '../../ledger/hash.js';
import { ENTRIES_LEVEL, parseEntryBundle, TILE_WIDTH, type Tile } from '../../ledger/tile.js';
import { errorText, type Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { TileCache } from './tile-cache.js';
import { isTransientIoError, StorageCorruptError } from '../storage/errors.js';
import type { LogStore } from '../storage/store.js';

/** Level-0 tiles (of 256 entries) verified per step: small, so one step holds the event loop only a few milliseconds. */
const STEP_TILES = 2;

export interface ScrubOptions {
  store: LogStore;
  /** The signed tree head the node serves now (size 0: nothing to check). */
  head: () => { size: number; root: Hash };
  /** Entries verified per second at most. */
  entriesPerSecond: number;
  /** Pause between two passes (default 60 s). */
  pauseMs?: number;
  onCorrupt: (error: StorageCorruptError) => void;
  log: Logger;
  metrics?: Registry;
}

export class Scrubber {
  private stopping = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Entries verified in the current pass, and passes completed. */
  position = 0;
  passes = 0;
  private readonly m;

  constructor(private readonly opts: ScrubOptions) {
    const r = opts.metrics;
    this.m = r
      ? {
          entries: r.counter(
            'urna_scrub_entries_total',
            'Entries (with their tiles) re-verified by the scrub.',
          ),
          passes: r.counter('urna_scrub_passes_total', 'Complete scrub passes over the whole log.'),
          corrupt: r.counter('urna_scrub_corruptions_total', 'Corruptions found by the scrub.'),
          position: r.gauge(
            'urna_scrub_position',
            'Entries verified so far in the current pass.',
            () => this.position,
          ),
        }
      : null;
  }

  start(): void {
    if (this.running || this.opts.entriesPerSecond <= 0) return;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  /** One whole pass now (tests, the benchmark); resolves with the entries verified. Throws what it found. */
  async pass(): Promise<number> {
    const head = this.opts.head();
    const cache = new TileCache(this.opts.store, 1024, 0);
    const fullTiles = Math.ceil(head.size / TILE_WIDTH);
    const budget = { start: performance.now(), done: 0 };
    this.position = 0;
    for (let first = 0; first < fullTiles && !this.stopping; first += STEP_TILES) {
      const tiles: Tile[] = [];
      for (let n = first; n < Math.min(first + STEP_TILES, fullTiles); n++) {
        const width = Math.min(TILE_WIDTH, head.size - n * TILE_WIDTH);
        tiles.push({ level: 0, index: n, width }, { level: ENTRIES_LEVEL, index: n, width });
      }
      const data = await cache.fetchVerified(tiles, head);
      await this.checkLeafIndex(tiles, data);
      const entries = tiles.reduce((sum, t) => sum + (t.level === ENTRIES_LEVEL ? t.width : 0), 0);
      this.position += entries;
      budget.done += entries;
      this.m?.entries.inc(entries);
      // Bounded rate: sleep until the entries verified so far are due.
      const due = budget.start + (budget.done / this.opts.entriesPerSecond) * 1000;
      await this.sleep(due - performance.now());
    }
    return this.position;
  }

  /** Every entry's leaf-index record gives its index (one batched read per step). */
  private async checkLeafIndex(tiles: Tile[], data: Uint8Array[]): Promise<void> {
    const leaves: Array<{ index: number; hash: Hash }> = [];
    tiles.forEach((t, i) => {
      if (t.level !== ENTRIES_LEVEL) return;
      parseEntryBundle(data[i]!, t.width).forEach((entry, j) =>
        leaves.push({ index: t.index * TILE_WIDTH + j, hash: leafHash(entry) }),
      );
    });
    const found = await this.opts.store.lookupLeaves(leaves.map((l) => l.hash));
    leaves.forEach((l, i) => {
      if (found[i] !== l.index)
        throw new StorageCorruptError(
          `the leaf index has ${found[i] ?? 'nothing'} for the entry at ${l.index} (leaf hash ${toHex(l.hash)}): stored data is corrupt`,
        );
    });
  }

  private async loop(): Promise<void> {
    const { log } = this.opts;
    while (!this.stopping) {
      const t0 = performance.now();
      try {
        const n = await this.pass();
        if (this.stopping) break;
        this.passes++;
        this.m?.passes.inc();
        log.debug(
          { entries: n, seconds: Math.round((performance.now() - t0) / 100) / 10 },
          'scrub pass complete',
        );
      } catch (e) {
        if (this.stopping) break;
        if (e instanceof StorageCorruptError) {
          this.m?.corrupt.inc();
          log.error({ err: e }, 'scrub found corrupt storage');
          this.opts.onCorrupt(e);
          return; // the node is unhealthy now; the data dir needs restoring
        }
        // A transient fault (the store is reopening) or anything else: try again after the pause.
        log.warn({ err: isTransientIoError(e) ? errorText(e) : e }, 'scrub pass interrupted');
      }
      await this.sleep(this.opts.pauseMs ?? 60_000);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wake = done;
    });
  }
}
