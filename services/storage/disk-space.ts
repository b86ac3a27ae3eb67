/**
 * The free-space floor: a node refuses new batches while the file system of
 * its data dir has less than `minFreeBytes` available, so LevelDB is never
 * the one to find the disk full in the middle of a compaction (its error
 * would be sticky until the store is reopened). Writes are refused with
 * 503 and Retry-After and resume by themselves once space is freed.
 */
import { statfs } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { UrnaError } from '../../ledger/errors.js';

const MiB = 1024 * 1024;

/** 503: free space is below the floor; no new batches until space is freed (not a fault of the store). */
export class BelowFloorError extends UrnaError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super('storage_full', message);
  }
}

export class FreeSpaceFloor {
  private free = Infinity;
  private timer: NodeJS.Timeout | null = null;
  private below = false;
  private readAt = -Infinity;
  private reading = false;

  constructor(
    readonly dir: string,
    readonly minFreeBytes: number,
    private readonly log: Logger,
    private readonly intervalMs = 500,
  ) {}

  /** Reads the free space now, then every `intervalMs`. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Bytes available to this process on the data dir's file system, as last read. */
  get available(): number {
    return this.free;
  }

  /**
   * Null while there is room; else why writes are refused (503, Retry-After).
   * Answers from the last reading, and reads again in the background when
   * that is older than a batch or two (writes can fill a disk fast).
   */
  check(): BelowFloorError | null {
    if (performance.now() - this.readAt > 20 && !this.reading) void this.poll();
    if (this.free >= this.minFreeBytes) return null;
    return new BelowFloorError(
      `only ${(this.free / MiB).toFixed(1)} MiB free on ${this.dir}, below the floor of ` +
        `${(this.minFreeBytes / MiB).toFixed(0)} MiB (--min-free-mb): no new batches until space is freed`,
      5,
    );
  }

  private async poll(): Promise<void> {
    this.reading = true;
    try {
      const s = await statfs(this.dir);
      this.free = s.bavail * s.bsize;
      this.readAt = performance.now();
    } catch (e) {
      this.log.warn({ err: e, dir: this.dir }, 'cannot read the free space of the data dir');
      return;
    } finally {
      this.reading = false;
    }
    const below = this.free < this.minFreeBytes;
    if (below !== this.below) {
      this.below = below;
      const fields = { freeMiB: Math.round(this.free / MiB), floorMiB: Math.round(this.minFreeBytes / MiB) };
      if (below) this.log.warn(fields, 'free space below the floor: refusing new batches');
      else this.log.info(fields, 'free space above the floor again: accepting batches');
    }
  }
}
