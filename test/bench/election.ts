/**
 * Signed ballots admitted end to end (HTTP, record decoding and Ed25519
 * checks on the worker pool, the election rules, fsync, receipts), beside
 * the machine's raw native Ed25519 verify rate on all cores, measured in the
 * same run.
 */
import autocannon from 'autocannon';
import { generateKeyPairSync, sign } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { fromBase64 } from '../../ledger/bytes.js';
import { formatVerifierKey } from '../../ledger/note.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { buildElection } from '../helpers/election.js';
import { tempDir } from '../helpers/log.js';
import { startListening, startServer } from '../helpers/process.js';
import { ed25519VerifyRateAllCores } from './limits.js';
import type { Report } from './report.js';

const TRIVIAL = fileURLToPath(new URL('./trivial-server.ts', import.meta.url));

/**
 * The trivial signed POST's rate (test/bench/trivial-server.ts `/verify`):
 * fastify and one native Ed25519 verify on a worker pool per request, each
 * body signed by a key of its own (as every ballot is), of `size` bytes.
 */
async function trivialSignedPosts(seconds: number, connections: number, size: number): Promise<number> {
  const bodies = Array.from({ length: 4000 }, (_, i) => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const message = Buffer.alloc(Math.max(1, size - 96), 65 + (i % 26));
    return Buffer.concat([raw, sign(null, message, privateKey), message]);
  });
  const trivial = await startListening(['--import', 'tsx', TRIVIAL]);
  try {
    let next = 0;
    const run = (duration: number) =>
      autocannon({
        url: `${trivial.url}/verify`,
        connections,
        duration,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }),
          },
        ],
      });
    await run(2);
    const result = await run(seconds);
    if (result.non2xx > 0) throw new Error(`trivial signed POST: ${result.non2xx} refused`);
    return result['2xx'] / seconds;
  } finally {
    await trivial.kill();
  }
}

export async function benchBallots(report: Report, opts: { seconds?: number } = {}): Promise<void> {
  const seconds = opts.seconds ?? 60;
  setEd25519Backend(nativeEd25519);
  const raw = await ed25519VerifyRateAllCores(3000);
  report('ed25519 verify, native, all cores', raw.perSecond, 'verify/s', `ceiling; ${raw.cores} cores`);

  const voters = 20_000;
  const f = buildElection({ id: 'bench-2026', voters });
  const authority = formatVerifierKey('bench-authority', 0x01, fromBase64(f.authority.key));
  const ballots = Array.from({ length: Math.min(seconds * 4000, 240_000) }, (_, i) =>
    f.ballot(f.voters[i % voters]!),
  );

  const connections = Number(process.env.URNA_BENCH_CONNECTIONS ?? 256);
  const ballotSize = Math.round(ballots.slice(0, 100).reduce((n, b) => n + b.length, 0) / 100);
  const signedCeiling = await trivialSignedPosts(Math.min(seconds, 15), connections, ballotSize);
  report(
    'trivial signed POST (fastify + 1 native verify on the pool)',
    signedCeiling,
    'req/s',
    `ceiling; ${ballotSize}-byte bodies, a key each`,
  );

  const { dir, cleanup } = await tempDir('urna-bench-ballots-');
  const server = await startServer(['--data', dir, '--authority', authority]);
  try {
    const post = async (bytes: Uint8Array) => {
      const res = await fetch(`${server.url}/add`, {
        method: 'POST',
        body: Buffer.from(bytes),
        headers: { 'content-type': 'application/json' },
      });
      if (res.status !== 201) throw new Error(`setup record rejected: ${res.status} ${await res.text()}`);
    };
    await post(f.election());
    for (let i = 0; i < voters; i += 400) await post(f.credentials(f.voters.slice(i, i + 400)));
    await post(f.phase('open'));

    let next = 0;
    const result = await autocannon({
      url: `${server.url}/add`,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: Buffer.from(ballots[next++ % ballots.length]!) }),
        },
      ],
    });
    const admitted = result['2xx'] / seconds;
    report(
      'signed ballots admitted end to end',
      admitted,
      'ballots/s',
      `${seconds} s, ${connections} connections, fsync on, ${result.non2xx} non-2xx`,
    );
    report('  ratio to trivial signed POST', admitted / signedCeiling, 'x', 'goal >= 0.60');
    report('  ratio to native verify on all cores', admitted / raw.perSecond, 'x');
    report('  p50 / p99 submit→receipt', result.latency.p50, 'ms', `p99 ${result.latency.p99} ms`);
  } finally {
    await server.kill();
    await cleanup();
  }
}
