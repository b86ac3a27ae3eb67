// Benchmark driver (`npm run bench [-- NAME...]`): runs each bench (or the
// named ones) in order, a progress line before each, and prints its reports
// as lines `name  value unit  (note)`, the note naming the limit measured in
// the same run or the goal; each bench's figures also go to
// test-results/bench/NAME.json. Add benches to BENCHES.
// URNA_BENCH_SECONDS shortens the sustained-load phases (default 60).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAudit } from './audit.js';
import { benchCount } from './count.js';
import { benchEncrypted } from './encrypted.js';
import { benchBallots } from './election.js';
import { benchFloods, benchStartupAndScrub } from './faults.js';
import { benchGrowth } from './growth.js';
import { benchHttp } from './http.js';
import { benchLedger } from './ledger.js';
import { benchRead } from './read.js';
import { benchReplication } from './replication.js';
import type { Report } from './report.js';
import { benchWeb } from './web.js';
import { benchWitness } from './witness.js';

/** A benchmark: reports any number of result lines through `report`. */
export type Bench = (report: Report) => Promise<void>;

const seconds = Number(process.env.URNA_BENCH_SECONDS ?? 60);
const BENCHES: Array<[name: string, bench: Bench]> = [
  ['ledger', benchLedger],
  ['http', (report) => benchHttp(report, { seconds })],
  ['ballots', (report) => benchBallots(report, { seconds })],
  [
    'growth',
    async (report) => {
      await benchGrowth(report, { max: Number(process.env.URNA_BENCH_GROWTH_MAX ?? 1_000_000) });
    },
  ],
  ['replication', (report) => benchReplication(report, { seconds })],
  [
    'read',
    (report) =>
      benchRead(report, {
        entries: Number(process.env.URNA_BENCH_ENTRIES ?? 100_000),
        concurrency: Number(process.env.URNA_BENCH_CONCURRENCY ?? 16),
      }),
  ],
  [
    'witness',
    (report) =>
      benchWitness(report, {
        seconds: Math.min(seconds, 30),
        logs: Number(process.env.URNA_BENCH_LOGS ?? 1000),
      }),
  ],
  ['count', (report) => benchCount(report, { voters: Number(process.env.URNA_BENCH_VOTERS ?? 1_058_000) })],
  [
    'audit',
    (report) => benchAudit(report, { voters: Number(process.env.URNA_BENCH_AUDIT_VOTERS ?? 100_000) }),
  ],
  [
    'web',
    (report) =>
      benchWeb(report, {
        voters: Number(process.env.URNA_BENCH_WEB_VOTERS ?? 1_058_000),
        auditVoters: Number(process.env.URNA_BENCH_WEB_AUDIT_VOTERS ?? 20_000),
      }),
  ],
  [
    'encrypted',
    (report) =>
      benchEncrypted(report, {
        ballots: Number(process.env.URNA_BENCH_ENCRYPTED_BALLOTS ?? 24),
        records: Number(process.env.URNA_BENCH_ENCRYPTED_RECORDS ?? 400),
      }),
  ],
  [
    'faults',
    async (report) => {
      await benchStartupAndScrub(report, Number(process.env.URNA_BENCH_ENTRIES ?? 1_000_000));
      await benchFloods(report, Math.min(seconds, 20));
    },
  ],
];
const wanted = process.argv.slice(2);

function format(value: number): string {
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 3);
}

const chosen = BENCHES.filter(([name]) => wanted.length === 0 || wanted.includes(name));
const unknown = wanted.filter((w) => !BENCHES.some(([name]) => name === w));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; the benches: ${BENCHES.map(([n]) => n).join(', ')}`);
  process.exit(2);
}
// Each bench's figures also go to test-results/bench/<name>.json, as reported.
const RESULTS = fileURLToPath(new URL('../../test-results/bench/', import.meta.url));
await mkdir(RESULTS, { recursive: true });
const suiteStart = performance.now();
for (const [k, [name, bench]] of chosen.entries()) {
  const started = performance.now();
  const elapsed = Math.round((started - suiteStart) / 1000);
  console.log(`# ${name} (${k + 1}/${chosen.length}, ${elapsed} s into the suite)`);
  const figures: Array<{ figure: string; value: number; unit: string; note?: string }> = [];
  await bench((line, value, unit, note) => {
    figures.push({ figure: line.trim(), value, unit, ...(note === undefined ? {} : { note }) });
    const text = `${line.padEnd(44)} ${format(value).padStart(12)} ${unit.padEnd(8)}`;
    console.log(note === undefined ? text.trimEnd() : `${text} (${note})`);
  });
  const seconds = (performance.now() - started) / 1000;
  await writeFile(
    join(RESULTS, `${name}.json`),
    JSON.stringify({ bench: name, measured: new Date().toISOString(), seconds, figures }, null, 2) + '\n',
  );
}
