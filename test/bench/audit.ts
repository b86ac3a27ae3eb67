/**
 * The audit (`npm run bench -- audit`): `urna verify audit` as a user runs
 * it, a child process replaying the demo generator's Sweden-sized night
 * (URNA_BENCH_AUDIT_VOTERS voters, default 100,000; the count bench's
 * cached log) from a static copy of its tiles served on loopback, beside the
 * raw native Ed25519 verify rate on all cores and the raw SHA-256 rate in
 * the same run (goal: at least 0.70 of the Ed25519 rate). The static server
 * runs in this process, on the same two cores: a real mirror would too.
 */
import { runUrna } from '../helpers/process.js';
import { serveEntries } from '../helpers/static-copy.js';
import { LOG, nightAndLimits } from './count.js';
import type { Report } from './report.js';

export async function benchAudit(report: Report, opts: { voters: number }): Promise<void> {
  const { entries, ed } = await nightAndLimits(report, opts.voters, 'audit: records');
  const copy = await serveEntries(entries, LOG.signerKey);
  try {
    const t0 = performance.now();
    const r = await runUrna(['verify', 'audit', '--log', copy.url, '--log-key', LOG.verifierKey, '--json']);
    const s = (performance.now() - t0) / 1000;
    if (r.code !== 0) throw new Error(`urna verify audit exited ${r.code}: ${r.stdout}${r.stderr}`);
    const rate = entries.length / s;
    report(
      'urna verify audit (whole command)',
      rate,
      'records/s',
      `${(rate / ed.perSecond).toFixed(2)} of ed25519 on all cores (goal 0.70); ${s.toFixed(1)} s, ${copy.requests()} requests`,
    );
  } finally {
    await copy.close();
  }
}
