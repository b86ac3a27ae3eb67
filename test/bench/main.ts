// Benchmark driver (`npm run bench [-- NAME...]`): runs each bench (or the
// named ones) in order and prints its reports as lines
// `name  value unit  (note)`. Add benches to BENCHES.
// URNA_BENCH_SECONDS shortens the sustained-load phases (default 60).
import { benchAudit } from './audit.js';
import { benchCount } from './count.js';
import { benchEncrypted } from './encrypted.js';
import { benchBallots } from './election.js';
import { benchFloods, benchStartupAndScrub } from './faults.js';
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

for (const [name, bench] of BENCHES) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.log(`# ${name}`);
  await bench((line, value, unit, note) => {
    const text = `${line.padEnd(44)} ${format(value).padStart(12)} ${unit.padEnd(8)}`;
    console.log(note === undefined ? text.trimEnd() : `${text} (${note})`);
  });
}
