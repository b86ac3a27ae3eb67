/**
 * The local materialisation of a log: the committed tree in a LogStore, and
 * how a journal batch becomes part of it. Shared by the sequencer (its
 * start-up catch-up), standby sequencers and mirrors (which follow the
 * journal live): one way to apply a batch, so every node that replays the
 * journal builds byte-identical tiles, leaf index and projections.
 */
import { concat, equalBytes, readUint64BE, uint64BE } from '../../ledger/bytes.js';
import { InconsistentError } from '../../ledger/errors.js';
import { HASH_SIZE, leafHash as computeLeafHash, type Hash } from '../../ledger/hash.js';
import { treeHash } from '../../ledger/merkle.js';
import { TreeAppender } from '../../ledger/appender.js';
import { entryBundlesForSize, parseEntryBundle, tilesForSize, TILE_WIDTH } from '../../ledger/tile.js';
import type { LogStore } from '../storage/store.js';
import { errorText } from '../log.js';
import type { JournalBatch } from './replicator.js';
import { JOURNAL_SEQ_KEY } from './replicator.js';
import { DEFER, type Admission, type Prepared } from './admission.js';
import { type TileCache } from './tile-cache.js';
import { StorageCorruptError } from '../storage/errors.js';

/**
 * Rebuilds the in-memory tree from the committed head and the partial tiles,
 * checking them: the root recomputed from the stored tiles must equal the
 * head's root (this covers every hash of every partial tile, since the edge
 * subtrees span them), and the partial bundle's entries must hash to the
 * partial level-0 tile.
 */
export async function loadAppender(store: LogStore, cache: TileCache): Promise<TreeAppender> {
  const head = await store.readHead();
  if (!head) return new TreeAppender();
  const { size } = head;
  const partial = await readPartialTiles(cache, size);
  let appender: TreeAppender;
  try {
    appender = new TreeAppender({ size, edge: head.edge, tiles: partial });
  } catch (e) {
    throw new StorageCorruptError(
      `stored data is corrupt: the tree head and the partial tiles disagree (${errorText(e)})`,
    );
  }
  const fromTiles = await cache.withHashes(size, (r) => treeHash(size, r));
  if (!equalBytes(appender.root(), head.root) || !equalBytes(fromTiles, head.root)) {
    throw new StorageCorruptError('stored data is corrupt: the tiles do not hash to the committed tree head');
  }
  const bundle = partial.get(-1)!;
  if (bundle.length > 0) {
    const level0 = partial.get(0)!;
    parseEntryBundle(bundle, size % TILE_WIDTH).forEach((entry, i) => {
      if (!equalBytes(computeLeafHash(entry), level0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
        throw new StorageCorruptError(
          `stored entry ${size - (size % TILE_WIDTH) + i} does not match its leaf hash`,
        );
      }
    });
  }
  return appender;
}

/**
 * Reads the partial (rightmost) tile of every level and the partial entry
 * bundle at `size`, as `appenderStateFrom` takes them: the bundle is always
 * present (the log records entries), empty when `size` is a multiple of 256.
 */
async function readPartialTiles(cache: TileCache, size: number): Promise<Map<number, Uint8Array>> {
  const partial = [...entryBundlesForSize(size), ...tilesForSize(size)].filter((t) => t.width < TILE_WIDTH);
  const data = await cache.fetch(partial);
  const tiles = new Map(partial.map((t, i) => [t.level, data[i]!]));
  if (!tiles.has(-1)) tiles.set(-1, new Uint8Array(0));
  return tiles;
}

/** The extra key/value recording the journal sequence of a batch and the tree size after it. */
export function journalSeqExtra(seq: number, size: number): { key: string; value: Uint8Array } {
  return { key: JOURNAL_SEQ_KEY, value: concat(uint64BE(seq), uint64BE(size)) };
}

/**
 * The journal sequence of the last batch committed in `store`, whose tree
 * holds `size` entries (0 for an empty store). Throws StorageCorruptError if
 * the store holds entries that did not come from the journal.
 */
export async function committedJournalSeq(store: LogStore, size: number): Promise<number> {
  const stored = await store.readExtra(JOURNAL_SEQ_KEY);
  if (stored === null) {
    if (size > 0)
      throw new StorageCorruptError(
        `the store holds ${size} entries that are not from the journal (started without --nats?)`,
      );
    return 0;
  }
  if (stored.length !== 16) throw new StorageCorruptError('stored journal sequence is malformed');
  const seq = readUint64BE(stored, 0);
  const atSeq = readUint64BE(stored, 8);
  if (atSeq !== size)
    throw new StorageCorruptError(
      `the store holds ${size} entries, the journal's batch ${seq} ends at ${atSeq}: ` +
        'entries were committed outside the journal',
    );
  return seq;
}

/** What applying journal batches works on: the store, its tile cache, the rules, and the tree in memory. */
export interface Materialization {
  store: LogStore;
  tiles: TileCache;
  admission: Admission;
  appender: TreeAppender;
}

/**
 * Applies journal batch `seq` through the same steps as a sequencer's tick —
 * admission (so projections are rebuilt; the rules are deterministic, so an
 * entry the journal holds was admitted by them at this index), tree append,
 * one atomic commit with its journal sequence — checking the batch's
 * first index, size and root. Throws InconsistentError if the batch does not
 * continue the tree, the rules refuse an entry, or the root differs: the
 * journal and this node disagree, and nothing of the batch is committed
 * (`m.appender` is then stale: reload it). Signs nothing.
 */
export async function applyJournalBatch(
  m: Materialization,
  seq: number,
  batch: JournalBatch,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const firstIndex = m.appender.size;
  if (batch.firstIndex !== firstIndex || batch.size !== firstIndex + batch.entries.length)
    throw new InconsistentError(
      `journal batch ${seq} covers ${batch.firstIndex}..${batch.size} with ` +
        `${batch.entries.length} entries, expected to start at ${firstIndex}`,
    );
  const items = await prepareAll(m, batch.entries, `journal batch ${seq}`);
  const { admission, leaves, deferred } = await admitAll(m, items, `journal batch ${seq}`);
  if (deferred !== items.length)
    throw new InconsistentError(
      `journal batch ${seq}: the rules do not admit entry ${firstIndex + deferred}: deferred`,
    );
  const root = m.appender.root();
  if (!equalBytes(root, batch.root))
    throw new InconsistentError(`journal batch ${seq}: root at size ${batch.size} does not match`);
  await commitAdmitted(
    m,
    leaves,
    [...admission.extra(), journalSeqExtra(seq, m.appender.size)],
    opts.durable ?? true,
  );
}

/**
 * Appends `entries` (the log's entries from index `m.appender.size` on, as
 * a copy of the log holds them) through the same steps as a sequencer's
 * ticks — admission, tree append, atomic commits — in as few batches as
 * the rules allow: an entry the rules DEFER (a tally over entries of its
 * own batch) starts a new batch, as it did at the sequencer. Throws
 * InconsistentError if the rules reject an entry (nothing of its batch is
 * committed). Signs nothing.
 */
export async function applyEntries(
  m: Materialization,
  entries: readonly Uint8Array[],
  opts: { durable?: boolean; what?: string } = {},
): Promise<void> {
  const what = opts.what ?? 'entries';
  let items = await prepareAll(m, entries, what);
  while (items.length > 0) {
    const { admission, leaves, deferred } = await admitAll(m, items, what);
    if (deferred === 0)
      throw new InconsistentError(
        `${what}: the rules defer entry ${m.appender.size} even at the start of a batch`,
      );
    await commitAdmitted(m, leaves, admission.extra(), opts.durable ?? true);
    items = items.slice(deferred);
  }
}

/** The admission's per-entry preparation of every entry (a rejection is an InconsistentError naming the entry). */
async function prepareAll(
  m: Materialization,
  entries: readonly Uint8Array[],
  what: string,
): Promise<Prepared<unknown>[]> {
  const firstIndex = m.appender.size;
  return Promise.all(
    entries.map(async (entry, i) => {
      try {
        return { entry, prepared: await m.admission.prepare(entry) };
      } catch (e) {
        throw new InconsistentError(`${what}: the rules reject entry ${firstIndex + i}: ${errorText(e)}`);
      }
    }),
  );
}

/**
 * Admits `items` in order as one batch and appends them to the tree, up to
 * the first one the rules DEFER (`deferred`: how many were admitted). A
 * rejection is an InconsistentError (the tree in memory is then stale).
 */
async function admitAll(m: Materialization, items: Prepared<unknown>[], what: string) {
  const admission = await m.admission.begin(items, m.appender.size);
  const leaves: Array<{ leafHash: Hash; index: number }> = [];
  let deferred = items.length;
  for (let i = 0; i < items.length; i++) {
    const { entry, prepared } = items[i]!;
    const index = m.appender.size;
    const rejection = admission.admit(entry, prepared, index);
    if (rejection === DEFER) {
      deferred = i;
      break;
    }
    if (rejection !== null)
      throw new InconsistentError(`${what}: the rules do not admit entry ${index}: ${rejection.message}`);
    const leafHash = computeLeafHash(entry);
    m.appender.appendEntry(entry, leafHash);
    leaves.push({ leafHash, index });
  }
  return { admission, leaves, deferred };
}

/** Commits what `admitAll` appended, with `extra`, in one atomic write; the tiles then go to the cache. */
async function commitAdmitted(
  m: Materialization,
  leaves: Array<{ leafHash: Hash; index: number }>,
  extra: Array<{ key: string; value: Uint8Array }>,
  durable: boolean,
): Promise<void> {
  const tiles = m.appender.takeTiles();
  const head = { size: m.appender.size, root: m.appender.root(), edge: m.appender.edge() };
  await m.store.commit({ head, tiles, leaves, extra, durable });
  m.tiles.put(tiles);
}

/**
 * Yields each item of `source` with `more`: whether the next one was
 * already at hand when this one was yielded (read ahead in the journal's
 * window). Replay commits durably only when `more` is false — once per run
 * of batches read together instead of once per batch — so a node catching
 * up from the journal is not bound by one fsync per batch.
 */
export async function* withLookahead<T>(
  source: AsyncIterable<T>,
): AsyncGenerator<{ value: T; more: boolean }> {
  const it = source[Symbol.asyncIterator]();
  let current = await it.next();
  try {
    while (!current.done) {
      const next = it.next();
      const more = await Promise.race([
        next.then((r) => !r.done), // the end is not more
        new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
      ]);
      yield { value: current.value, more };
      current = await next;
    }
  } finally {
    if (!current.done) await it.return?.();
  }
}
