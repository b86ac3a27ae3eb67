/**
 * Growth (`npm run bench -- growth`): the sequencer's figures as one log
 * grows, at every power of ten from 10^4 to `URNA_BENCH_GROWTH_MAX` records
 * (default 10^6; 10^7 is a separate long run): the CPU per record of
 * sequencing the last decade (in process, no HTTP: tick, LevelDB commit with
 * fsync, signed checkpoint), a receipt's proof size and the time to compute
 * it for random older records (tiles mostly cold), the memory the process
 * holds after a GC, and the disk per record against the goal of 1.3 × (the
 * records' bytes + 32 bytes per leaf). Beside them, the limits of the same
 * run: raw SHA-256 and the LevelDB synced batch. Writes the figures to
 * docs/bench/growth.json and plots them in docs/bench/growth.svg.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { leafHash, setSha256Backend } from '../../ledger/hash.js';
import { parseReceipt } from '../../ledger/receipt.js';
import { nativeSha256, rawSha256 } from '../../services/crypto/native-sha256.js';
import { tempDir } from '../helpers/log.js';
import { benchEntry, openBenchLog } from './in-process-log.js';
import { levelSyncedBatchRate, sha256Rate } from './limits.js';
import type { Report } from './report.js';

const OUT = fileURLToPath(new URL('../../docs/bench/', import.meta.url));
const RECEIPTS = 200;
const MiB = 2 ** 20;

/** One row of the growth table (and of growth.json). */
export interface GrowthRow {
  records: number;
  /** Sequencing the decade before `records`: wall-clock records/s and CPU µs per record. */
  recordsPerSecond: number;
  cpuMicrosPerRecord: number;
  /** Receipts for random older records: mean hashes in the proof, mean µs to compute one. */
  proofHashes: number;
  receiptMicros: number;
  /**
   * After a GC: JS heap plus array buffers (tiles live there); the resident
   * set, and its anonymous part (without the page cache of LevelDB's
   * memory-mapped table files, which the kernel reclaims at will).
   */
  heldMiB: number;
  rssMiB: number;
  anonymousMiB: number;
  /** Bytes on disk (the LevelDB directory) per record, and the goal's bound per record. */
  diskPerRecord: number;
  goalDiskPerRecord: number;
}

const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** RssAnon from /proc/self/status (Linux), else the whole resident set. */
async function anonymousResident(): Promise<number> {
  try {
    const kb = /RssAnon:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) return (Number(kb) * 1024) / MiB;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / MiB;
}

/** The bytes of the files under `dir`; a file deleted while counting (LevelDB compacts as it goes) counts 0. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(path);
    else total += (await stat(path).catch(gone))?.size ?? 0;
  }
  return total;
}

function gone(e: NodeJS.ErrnoException): undefined {
  if (e.code !== 'ENOENT') throw e;
  return undefined;
}

/** A deterministic pseudo-random index below `n` (xorshift). */
function picker(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

export async function benchGrowth(report: Report, opts: { max: number }): Promise<GrowthRow[]> {
  setSha256Backend(nativeSha256);
  const sha = sha256Rate(rawSha256, 1000);
  report('native sha256 64-byte input', sha, 'hash/s', 'limit');
  report('leveldb synced batches (1 put each)', await levelSyncedBatchRate(2000), 'batches/s', 'limit');
  const rows: GrowthRow[] = [];
  const { dir, cleanup } = await tempDir('urna-bench-growth-');
  const log = await openBenchLog(dir);
  const pick = picker(15);
  try {
    let done = 0;
    let recordBytes = 0;
    for (let records = 10_000; records <= opts.max; records *= 10) {
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      recordBytes += await log.append(done, records);
      const cpu = process.cpuUsage(cpu0);
      const seconds = (performance.now() - started) / 1000;
      const decade = records - done;
      done = records;

      let hashes = 0;
      const t0 = performance.now();
      for (let k = 0; k < RECEIPTS; k++) {
        const i = pick(records);
        const { receipt } = await log.sequencer.receiptFor(i, leafHash(benchEntry(i)));
        hashes += parseReceipt(receipt).proof.length;
      }
      const receiptMicros = ((performance.now() - t0) * 1000) / RECEIPTS;

      gc();
      const m = process.memoryUsage();
      const disk = await directoryBytes(join(dir, 'data'));
      const row: GrowthRow = {
        records,
        recordsPerSecond: decade / seconds,
        cpuMicrosPerRecord: (cpu.user + cpu.system) / decade,
        proofHashes: hashes / RECEIPTS,
        receiptMicros,
        heldMiB: (m.heapUsed + m.arrayBuffers) / MiB,
        rssMiB: m.rss / MiB,
        anonymousMiB: await anonymousResident(),
        diskPerRecord: disk / records,
        goalDiskPerRecord: (1.3 * (recordBytes + 32 * records)) / records,
      };
      rows.push(row);
      const at = records.toLocaleString('en-US');
      report(`${at} records: sequenced`, row.recordsPerSecond, 'records/s', `the decade before, in process`);
      report(
        '  cpu per record',
        row.cpuMicrosPerRecord,
        'µs',
        `${((row.cpuMicrosPerRecord * sha) / 1e6).toFixed(0)} hashes' worth`,
      );
      report(
        '  receipt of a random older record',
        row.receiptMicros,
        'µs',
        `${row.proofHashes.toFixed(1)} proof hashes (log2 n = ${Math.log2(records).toFixed(1)})`,
      );
      report(
        '  memory held after GC',
        row.heldMiB,
        'MiB',
        `resident ${row.rssMiB.toFixed(0)} MiB, anonymous ${row.anonymousMiB.toFixed(0)} MiB; goal < 300 MB at 10^7`,
      );
      report(
        '  disk per record',
        row.diskPerRecord,
        'bytes',
        `goal <= ${row.goalDiskPerRecord.toFixed(0)} (1.3 x (record + 32))`,
      );
    }
  } finally {
    await log.close();
    await cleanup();
  }
  await mkdir(OUT, { recursive: true });
  await writeFile(
    join(OUT, 'growth.json'),
    JSON.stringify({ measured: new Date().toISOString(), rows }, null, 2) + '\n',
  );
  await writeFile(join(OUT, 'growth.svg'), growthPlot(rows));
  return rows;
}

/** The growth figures as one SVG: a panel per figure against the log's size (log scale). */
export function growthPlot(rows: GrowthRow[]): string {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const panel = (label: string, y: keyof GrowthRow, goal?: keyof GrowthRow) =>
    Plot.plot({
      document,
      width: 320,
      height: 220,
      marginLeft: 50,
      x: { type: 'log', label: 'records' },
      y: { label, zero: true, grid: true },
      marks: [
        Plot.line(rows, { x: 'records', y }),
        Plot.dot(rows, { x: 'records', y, fill: 'currentColor' }),
        ...(goal ? [Plot.line(rows, { x: 'records', y: goal, strokeDasharray: '4,3', stroke: 'gray' })] : []),
      ],
    }) as unknown as Element;
  const panels = [
    panel('CPU µs per record sequenced', 'cpuMicrosPerRecord'),
    panel('receipt µs (random older record)', 'receiptMicros'),
    panel('hashes in an inclusion proof', 'proofHashes'),
    panel('MiB anonymous resident after GC', 'anonymousMiB'),
    panel('disk bytes per record (dashed: goal)', 'diskPerRecord', 'goalDiskPerRecord'),
  ];
  const parts = panels.map((svg, i) => {
    svg.setAttribute('x', String((i % 3) * 330));
    svg.setAttribute('y', String(Math.floor(i / 3) * 230));
    return svg.outerHTML;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="990" height="460" viewBox="0 0 990 460" font-family="sans-serif">` +
    `<rect width="990" height="460" fill="white"/>${parts.join('')}</svg>\n`
  );
}
