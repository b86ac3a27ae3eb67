// Benchmark of the ledger core: raw SHA-256 rate, then appending 1,000,000
// leaf hashes to a TreeAppender with tiles taken every 1,000 appends (as a
// sequencer batching ~1,000 records per checkpoint would), and appending
// entries (leaf hash + node hash each).
import { sha256 } from '@noble/hashes/sha2.js';
import { TreeAppender } from '../../ledger/appender.js';
import { tilePath } from '../../ledger/tile.js';
import type { Report } from './report.js';

const MiB = 1024 * 1024;

/** Wall-clock and CPU (user + system) seconds since `start()`. */
function timer(): () => { wall: number; cpu: number } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(cpu);
    return { wall: (performance.now() - wall) / 1000, cpu: (c.user + c.system) / 1e6 };
  };
}

/**
 * Runs `f` in batches until `seconds` of wall clock have passed; returns
 * calls per second of wall clock and of CPU time (the CPU rate is steadier
 * on a shared machine).
 */
function rate(seconds: number, batch: number, f: () => void): { wall: number; cpu: number } {
  const elapsed = timer();
  let n = 0;
  do {
    for (let i = 0; i < batch; i++) f();
    n += batch;
  } while (elapsed().wall < seconds);
  const t = elapsed();
  return { wall: n / t.wall, cpu: n / t.cpu };
}

/** Tracks the peaks of heapUsed + arrayBuffers (tile data lives outside the JS heap) and of rss. */
class MemoryPeak {
  heap = 0;
  rss = 0;
  sample(): void {
    const m = process.memoryUsage();
    this.heap = Math.max(this.heap, m.heapUsed + m.arrayBuffers);
    this.rss = Math.max(this.rss, m.rss);
  }
}

/**
 * Appends `count` leaf hashes, taking tiles every `every` appends into an
 * in-memory tile map (full tiles by path; the latest partial per level), and
 * computing the root at each take (a checkpoint). The leaf hashes are cheaply
 * derived, not real SHA-256 outputs: one 32-byte buffer whose first 8 bytes
 * are overwritten with the counter (appendLeafHash copies its argument), so
 * only the appender's own hashing is measured.
 */
function appendHashes(count: number, every: number, peak: MemoryPeak) {
  const app = new TreeAppender();
  const full = new Map<string, Uint8Array>();
  const partial = new Map<number, Uint8Array>();
  const leaf = new Uint8Array(32).fill(0xa5);
  const view = new DataView(leaf.buffer);
  const store = () => {
    for (const { tile, data } of app.takeTiles()) {
      if (tile.width === 256) full.set(tilePath(tile), data);
      else partial.set(tile.level, data);
    }
    app.root();
  };
  const elapsed = timer();
  for (let i = 0; i < count; i++) {
    view.setUint32(0, i);
    view.setUint32(4, i ^ 0x5bd1e995);
    app.appendLeafHash(leaf);
    if ((i + 1) % every === 0) {
      store();
      if ((i + 1) % (every * 10) === 0) peak.sample();
    }
  }
  store();
  const time = elapsed();
  let tileBytes = 0;
  for (const d of full.values()) tileBytes += d.length;
  for (const d of partial.values()) tileBytes += d.length;
  return { time, fullTiles: full.size, tileBytes, state: app.state() };
}

/** Appends `count` entries of `size` bytes with appendEntry, taking tiles (and dropping them) every `every`. */
function appendEntries(count: number, size: number, every: number): { wall: number; cpu: number } {
  const app = new TreeAppender();
  const entry = new Uint8Array(size).fill(0x42);
  const view = new DataView(entry.buffer);
  const elapsed = timer();
  for (let i = 0; i < count; i++) {
    view.setUint32(0, i);
    app.appendEntry(entry);
    if ((i + 1) % every === 0) {
      app.takeTiles();
      app.root();
    }
  }
  const t = elapsed();
  return { wall: count / t.wall, cpu: count / t.cpu };
}

const ratios = (r: { wall: number; cpu: number }, h: { wall: number; cpu: number }) =>
  `wall ${(r.wall / h.wall).toFixed(3)}, cpu ${(r.cpu / h.cpu).toFixed(3)}`;

/** The ledger benchmark: see the module comment. */
export async function benchLedger(report: Report): Promise<void> {
  const input = new Uint8Array(64).fill(7);
  rate(0.5, 1000, () => sha256(input)); // JIT warm-up
  const hash = rate(2, 1000, () => sha256(input));
  report(
    'sha256 64-byte input',
    hash.wall,
    'hash/s',
    `@noble/hashes as in ledger/hash.ts; cpu ${Math.round(hash.cpu)}/s`,
  );

  const before = process.memoryUsage();
  const peak = new MemoryPeak();
  peak.sample();
  const N = 1_000_000;
  const r = appendHashes(N, 1000, peak);
  peak.sample();
  const leaves = { wall: N / r.time.wall, cpu: N / r.time.cpu };
  report(
    'appendLeafHash 1M leaves',
    leaves.wall,
    'leaf/s',
    `${r.time.wall.toFixed(2)} s; takeTiles + root every 1000`,
  );
  report(
    '  ratio to raw sha256',
    leaves.cpu / hash.cpu,
    '',
    `by cpu time; ${ratios(leaves, hash)}; ~1 node hash/leaf; goal >= 0.4`,
  );
  report('  tiles kept in memory', r.tileBytes / MiB, 'MiB', `${r.fullTiles} full tiles + latest partials`);
  report(
    '  peak heap + buffers',
    peak.heap / MiB,
    'MiB',
    `before ${((before.heapUsed + before.arrayBuffers) / MiB).toFixed(1)} MiB; includes the tiles; sampled every 10,000`,
  );
  report('  peak rss', peak.rss / MiB, 'MiB', `before ${(before.rss / MiB).toFixed(1)} MiB`);
  let stateBytes = 32 * r.state.edge.length;
  for (const d of r.state.tiles.values()) stateBytes += d.length;
  report('  appender state', stateBytes / 1024, 'KiB', `edge ${r.state.edge.length} hashes + partial tiles`);

  const entries = appendEntries(200_000, 100, 1000);
  report('appendEntry 200k x 100 B', entries.wall, 'entry/s', 'leaf hash + ~1 node hash each');
  report(
    '  ratio to raw sha256',
    entries.cpu / hash.cpu,
    '',
    `by cpu time; ${ratios(entries, hash)}; goal >= 0.4`,
  );
}
