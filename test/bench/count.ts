/**
 * The counter (`npm run bench -- count`): a Sweden-sized election night of
 * the demo generator (6,004 polling districts, 3 contests, preliminary and
 * final reports, about 1,000,000 e-ballots; URNA_BENCH_VOTERS voters, default
 * 1,058,000) replayed and counted from an empty state by the counter's
 * engine (verifier/replayer.ts with the worker pool, ledger/tally.ts,
 * ledger/results.ts), beside the machine's limits measured in the same run:
 *
 * - replay with full verification (decode, signature on all cores, rules,
 *   tree) against raw native Ed25519 verify on all cores (goal ≥ 0.70);
 * - replay without signature checks (parse, rules, tree) against raw native
 *   SHA-256 of 64-byte inputs (goal ≥ 0.30);
 * - the whole night from an empty state: replay, tally and results, with the
 *   heap and RSS after it (goal under 2 minutes).
 *
 * The generated log is cached in the temp directory (it takes about a
 * minute to sign), keyed by its parameters.
 */
import { rawSha256 } from '../../services/crypto/native-sha256.js';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromUtf8, toBase64 } from '../../ledger/bytes.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { leafHash } from '../../ledger/hash.js';
import { decodeSignerKey, ED25519_TYPE, formatSignerKey, formatVerifierKey } from '../../ledger/note.js';
import { signRecord, type DecodedRecord, type Record } from '../../ledger/record.js';
import { DemoElection } from '../../services/cli/demo-plan.js';
import { countSnapshot } from '../../services/count/counter.js';
import { useNativeCrypto } from '../../services/crypto/native.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { RecordPool } from '../../services/crypto/record-pool.js';
import { Replayer, type Decoder } from '../../verifier/replayer.js';
import { ed25519VerifyRateAllCores, sha256Rate } from './limits.js';
import type { Report } from './report.js';

export const LOG = (() => {
  const signerKey = formatSignerKey('bench-count.example/log', ED25519_TYPE, new Uint8Array(32).fill(8));
  const d = decodeSignerKey(signerKey);
  return { signerKey, verifierKey: formatVerifierKey(d.name, ED25519_TYPE, d.publicKey) };
})();
const AUTHORITY = decodeSignerKey(
  formatSignerKey('bench-count.example/authority', ED25519_TYPE, new Uint8Array(32).fill(7)),
);

/** The night's entries: a log record, then the demo's night up to the correction. */
export async function night(
  voters: number,
): Promise<{ entries: Uint8Array[]; demo: DemoElection; ms: number }> {
  const demo = new DemoElection({ seed: 'bench', authority: AUTHORITY.seed, districts: 6004, voters });
  const file = join(tmpdir(), `urna-bench-count-${voters}-${LOG.verifierKey.split('+')[1]}.bin`);
  const started = performance.now();
  if (existsSync(file)) return { entries: unframe(await readFile(file)), demo, ms: 0 };
  setEd25519Backend(nativeEd25519);
  const logSeed = decodeSignerKey(LOG.signerKey).seed;
  const entries = [
    signRecord(
      {
        v: 1,
        type: 'log',
        body: {
          origin: 'bench-count.example/log',
          sequence: 0,
          authorities: [toBase64(AUTHORITY.publicKey)],
        },
      },
      logSeed,
    ),
    ...demo.night(),
  ];
  await writeFile(file, frame(entries));
  return { entries, demo, ms: performance.now() - started };
}

function frame(entries: readonly Uint8Array[]): Uint8Array {
  const total = entries.reduce((n, e) => n + 4 + e.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    view.setUint32(at, e.length);
    out.set(e, at + 4);
    at += 4 + e.length;
  }
  return out;
}

function unframe(data: Uint8Array): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length;) {
    const n = view.getUint32(at);
    out.push(data.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

function* chunks(entries: readonly Uint8Array[], size: number): Generator<Uint8Array[]> {
  for (let i = 0; i < entries.length; i += size) yield entries.slice(i, i + size);
}

/** Decodes without signature checks: parse the canonical JSON (no schema, no signature), hash the leaf. */
export const decodeUnsigned: Decoder = async (batch) =>
  batch.map((bytes): DecodedRecord => ({
    record: JSON.parse(fromUtf8(bytes)) as Record,
    bytes,
    leafHash: leafHash(bytes),
  }));

/** Replays `entries` into a fresh replayer with `decode`; returns it and the seconds it took. */
export async function replayAll(
  entries: readonly Uint8Array[],
  decode: Decoder,
): Promise<{ replayer: Replayer; s: number }> {
  const replayer = new Replayer({ logKey: LOG.verifierKey, decode });
  const start = performance.now();
  await replayer.appendAll(chunks(entries, 8192));
  return { replayer, s: (performance.now() - start) / 1000 };
}

/**
 * The night of `voters` (reported as `label`) and the limits of this run the
 * replay is measured against: native Ed25519 verify on all cores, native
 * SHA-256 of 64-byte inputs. Shared by the count and audit benches.
 */
export async function nightAndLimits(report: Report, voters: number, label: string) {
  useNativeCrypto();
  const { entries, demo, ms } = await night(voters);
  report(label, entries.length, 'records', ms ? `generated in ${(ms / 1000).toFixed(0)} s` : 'cached');
  const ed = await ed25519VerifyRateAllCores(2000);
  report('limit: native ed25519 verify, all cores', ed.perSecond, 'verify/s', `${ed.cores} cores`);
  const sha = sha256Rate(rawSha256, 1000);
  report('limit: native sha256, 64-byte input', sha, 'hash/s');
  return { entries, demo, ed, sha };
}

export async function benchCount(report: Report, opts: { voters: number }): Promise<void> {
  const { entries, demo, ed, sha } = await nightAndLimits(report, opts.voters, 'night: records');

  // Without signatures (decodeUnsigned), then the rules. Its state is dropped before the full replay (two
  // states of a Sweden-sized night do not fit one heap).
  const quickRate = entries.length / (await replayAll(entries, decodeUnsigned)).s;
  report(
    'replay without signature checks',
    quickRate,
    'records/s',
    `${(quickRate / sha).toFixed(2)} of sha256 (goal 0.30)`,
  );

  // Full verification on the worker pool, then count, from an empty state.
  const pool = new RecordPool();
  try {
    const full = await replayAll(entries, (batch) => pool.decodeAll(batch));
    const fullRate = entries.length / full.s;
    report(
      'replay with full verification',
      fullRate,
      'records/s',
      `${(fullRate / ed.perSecond).toFixed(2)} of ed25519 on all cores (goal 0.70)`,
    );
    // Count what the full replay rebuilt: the tally and the district view.
    const start = performance.now();
    const head = { size: entries.length, root: full.replayer.rootAt(entries.length) };
    const snapshot = countSnapshot(full.replayer, demo.id, head, '');
    const countS = (performance.now() - start) / 1000;
    report('count: tally and results', countS, 's', `${snapshot.results.districts.length} districts`);
    const total = full.s + countS;
    const mem = process.memoryUsage();
    report('night from an empty state', total, 's', 'goal under 120 s');
    report(
      'heap after the night',
      mem.heapUsed / 2 ** 20,
      'MiB',
      `rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    await pool.close();
  }
}
