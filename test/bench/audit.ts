/**
 * The audit (`npm run bench -- audit`): `urna verify audit` as a user runs
 * it, a child process replaying the demo generator's Sweden-sized night
 * (URNA_BENCH_AUDIT_VOTERS voters, default 100,000; the count bench's
 * cached log) from a static copy of its tiles served on loopback, beside the
 * raw native Ed25519 verify rate on all cores and the raw SHA-256 rate in
 * the same run (goal: at least 0.70 of the Ed25519 rate). The static server
 * runs in this process, on the same two cores: a real mirror would too.
 */
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { rawSha256 } from '../../services/crypto/native-sha256.js';
import { runUrna } from '../helpers/process.js';
import { serveEntries } from '../helpers/static-copy.js';
import { LOG, night } from './count.js';
import { ed25519VerifyRateAllCores, sha256Rate } from './limits.js';
import type { Report } from './report.js';

export async function benchAudit(report: Report, opts: { voters: number }): Promise<void> {
  setEd25519Backend(nativeEd25519);
  const { entries, ms } = await night(opts.voters);
  report(
    'audit: records',
    entries.length,
    'records',
    ms ? `generated in ${(ms / 1000).toFixed(0)} s` : 'cached',
  );
  const ed = await ed25519VerifyRateAllCores(2000);
  report('limit: native ed25519 verify, all cores', ed.perSecond, 'verify/s', `${ed.cores} cores`);
  const sha = sha256Rate(rawSha256, 1000);
  report('limit: native sha256, 64-byte input', sha, 'hash/s');
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
