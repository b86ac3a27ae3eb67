/**
 * Test helpers for mirrors (services/mirror/mirror.ts):
 *  - in process: an in-memory journal that a Sequencer appends to (its
 *    Replicator) and a Mirror follows (its FollowJournal), with a gate on
 *    what followers may read; a checkpoint source the test publishes to;
 *  - real processes: `urna mirror` started on a free loopback port, and a
 *    stopped node's LevelDB tile overwritten in place, as disk corruption
 *    would.
 */
import { Level } from 'level';
import { encodedBatchBytes, type JournalRecord } from '../../services/journal/journal.js';
import type { CheckpointSource, FollowJournal } from '../../services/mirror/mirror.js';
import type { JournalBatch, Replicator } from '../../services/node/replicator.js';
import { tileStoreKey as tileKey } from '../../services/storage/store.js';
import { utf8 } from '../../ledger/bytes.js';
import { keepReceipt, post } from './audit.js';
import type { Tile } from '../../ledger/tile.js';

/**
 * A journal in memory with the expected-last-sequence fence of the real
 * one. `follow` yields the batches from a sequence on, live, up to
 * `visible` (a gate the test moves with `release`), until its signal aborts.
 */
export class MemoryJournal {
  /** The batches, sequence s at `batches[s - 1]` (a test may replace one to tamper with it). */
  readonly batches: JournalBatch[] = [];
  /** Every checkpoint the sequencer announced, in order. */
  readonly published: string[] = [];
  /** The `fromSeq` of every follow call, in order. */
  readonly follows: number[] = [];
  /** Followers see batches up to this sequence. */
  private visible: number;
  private readonly waiters = new Set<() => void>();

  constructor(opts: { visible?: number } = {}) {
    this.visible = opts.visible ?? Infinity;
  }

  replicator(): Replicator {
    return {
      maxBatchBytes: 1 << 20,
      bytesOf: encodedBatchBytes,
      append: async (batch, expectedLastSeq) => {
        if (expectedLastSeq !== this.batches.length)
          throw new Error(`journal conflict: expected ${expectedLastSeq}, at ${this.batches.length}`);
        this.batches.push({ ...batch, root: batch.root.slice(), entries: [...batch.entries] });
        this.wake();
        return this.batches.length;
      },
      readAfter: async function* (this: MemoryJournal, afterSeq: number) {
        for (let s = afterSeq + 1; s <= this.batches.length; s++)
          yield { seq: s, batch: this.batches[s - 1]! };
      }.bind(this),
      publishCheckpoint: (note) => void this.published.push(note),
      latestCheckpoint: async () => this.published.at(-1) ?? null,
    };
  }

  /** Lets followers read up to sequence `seq` (Infinity: everything). */
  release(seq = Infinity): void {
    this.visible = seq;
    this.wake();
  }

  /** The sequence of the batch ending at tree size `size` (throws if none does). */
  seqAtSize(size: number): number {
    const i = this.batches.findIndex((b) => b.size === size);
    if (i < 0) throw new Error(`no journal batch ends at size ${size}`);
    return i + 1;
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  readonly follow: FollowJournal = (fromSeq, { signal }) => {
    this.follows.push(fromSeq);
    return this.read(fromSeq, signal);
  };

  private async *read(fromSeq: number, signal: AbortSignal): AsyncGenerator<JournalRecord> {
    let seq = fromSeq;
    while (!signal.aborted) {
      if (seq <= Math.min(this.batches.length, this.visible)) {
        yield { seq, batch: this.batches[seq - 1]!, storedAt: Date.now() };
        seq++;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

/** A checkpoint feed the test drives: `publish` hands a note to every subscriber and makes it the latest. */
export class ManualCheckpoints implements CheckpointSource {
  private last: string | null = null;
  private readonly listeners = new Set<(note: string) => void>();

  async latest(): Promise<string | null> {
    return this.last;
  }

  subscribe(listener: (note: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(note: string): void {
    this.last = note;
    for (const l of this.listeners) l(note);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs` naming `what`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Flips one byte (XOR 0xff) of the stored value of `tile` in the LevelDB at
 * `dbDir` (a stopped node's `<data>/db`), at byte `offset`. Returns the
 * stored value's length. Flip the same byte again to restore it.
 */
export async function flipTileByte(
  dbDir: string,
  tile: Pick<Tile, 'level' | 'index'>,
  offset: number,
): Promise<number> {
  const db = new Level<string, Uint8Array>(dbDir, { valueEncoding: 'view' });
  await db.open();
  try {
    const key = tileKey(tile);
    const value = await db.get(key);
    if (value === undefined) throw new Error(`no stored tile ${key} in ${dbDir}`);
    if (offset >= value.length) throw new RangeError(`${key} holds ${value.length} bytes, not ${offset + 1}`);
    const copy = value.slice();
    copy[offset] = copy[offset]! ^ 0xff;
    await db.put(key, copy, { sync: true });
    return value.length;
  } finally {
    await db.close();
  }
}

/** A running load on a log (see `steadyLoad`). */
export interface SteadyLoad {
  /** Receipts so far. */
  readonly receipted: number;
  /** Stops the clients and waits for their requests in flight. */
  stop(): Promise<void>;
}

/**
 * Submits distinct opaque entries to `url` with `clients` clients (default
 * 16), each waiting for its receipt before the next, until stopped or until
 * a request fails (the server died). Receipts go to `got` (leaf hash and
 * index), their checkpoints to `seen`. Like test/helpers/audit.ts `load`,
 * but stopped by the caller rather than by a deadline.
 */
export function steadyLoad(
  url: string,
  tag: string,
  got: Array<{ leafHash: string; index: number }>,
  seen: Set<string>,
  clients = 16,
): SteadyLoad {
  let stopped = false;
  let n = 0;
  let count = 0;
  const client = async (c: number) => {
    while (!stopped) {
      try {
        const answer = await post({ url }, utf8(`${tag} client ${c} entry ${n++}`), 30_000);
        if (keepReceipt(answer, got, seen)) count++;
        else await sleep(50);
      } catch {
        return; // the server is gone
      }
    }
  };
  const running = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return {
    get receipted() {
      return count;
    },
    async stop() {
      stopped = true;
      await running;
    },
  };
}
