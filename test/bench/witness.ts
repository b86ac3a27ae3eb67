/**
 * The witness (`npm run bench -- witness`):
 *  - add-checkpoint requests/s one `urna witness` process sustains for many
 *    logs (1,000 by default, `URNA_BENCH_LOGS`), each request a new
 *    checkpoint of one log with its consistency proof, from 64 clients over
 *    loopback: every request verifies the log's Ed25519 signature and the
 *    proof, cosigns, and syncs the new size to LevelDB before answering;
 *    beside, in the same run, native Ed25519 verify on all cores, LevelDB
 *    synced writes and a trivial fastify POST;
 *  - the time from a checkpoint signed to its 2-of-3 cosigned version
 *    being available to the log (CosignatureCollector against three
 *    witness processes), p50 and p99, one checkpoint every 100 ms.
 * Goal: at least 1,000 checkpoints/s (1,000 logs at a 1 s period);
 * cosigned within 2 s at p99.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey } from '../../ledger/cosignature.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { hash } from '../../ledger/hash.js';
import { MemoryHashStore, proveConsistency, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import { formatAddCheckpoint } from '../../ledger/witness.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { silentLogger } from '../../services/log.js';
import { CosignatureCollector } from '../../services/witness/collector.js';
import { tempDir } from '../helpers/log.js';
import {
  startListening,
  startServer,
  startThreeWitnesses,
  startWitness,
  twoOfThreePolicy,
  URNA_BIN,
  type ServerProcess,
} from '../helpers/process.js';
import { forkedLog, serveTree } from '../helpers/forked-log.js';
import { freePort } from '../../dev/processes.js';
import { loadPosts, writeLimits } from './http.js';
import { ed25519VerifyRateAllCores } from './limits.js';
import type { Report } from './report.js';

const STEP = 7;

/** A 2-of-3 policy over the three witness processes. */

export async function benchWitness(report: Report, opts: { seconds: number; logs: number }): Promise<void> {
  setEd25519Backend(nativeEd25519);
  const { dir, cleanup } = await tempDir('urna-bench-witness-');
  const witnesses: ServerProcess[] = [];
  try {
    const verify = await ed25519VerifyRateAllCores(2000);
    report('ed25519 verify, native, all cores', verify.perSecond, 'verify/s', `limit; ${verify.cores} cores`);
    await writeLimits(report, Math.min(opts.seconds, 10), 64);

    // One tree shared by every log (the witness's work does not depend on the entries), signed under each log's key.
    const steps = Math.max(40, opts.seconds * 2);
    const tree = new MemoryHashStore();
    for (let i = 0; i < STEP * (steps + 1); i++) tree.append(hash(utf8(`entry ${i}`)));
    const roots = Array.from({ length: steps + 1 }, (_, k) => treeHash(STEP * (k + 1), tree));
    const proofs = Array.from({ length: steps }, (_, k) =>
      proveConsistency(STEP * (k + 1), STEP * (k + 2), tree),
    );
    const logs = Array.from({ length: opts.logs }, (_, i) => generateSignerKey(`bench-${i}.example/log`));
    await writeFile(join(dir, 'logs'), logs.map((l) => l.verifierKey).join('\n'));
    const wkey = generateCosignerKey('bench.example/witness');
    await writeFile(join(dir, 'w.key'), wkey.signerKey + '\n', { mode: 0o600 });
    const w = await startWitness(
      ['--data', join(dir, 'w'), '--key', join(dir, 'w.key'), '--log-level', 'warn'],
      {
        URNA_WITNESS_LOGS: logs.map((l) => l.verifierKey).join(' '),
      },
    );
    witnesses.push(w);
    const signers = logs.map((l) => parseSignerKey(l.signerKey));
    const body = (log: number, k: number) =>
      formatAddCheckpoint({
        oldSize: k === 0 ? 0 : STEP * k,
        proof: k === 0 ? [] : proofs[k - 1]!,
        checkpoint: signCheckpoint(
          { origin: signers[log]!.name, size: STEP * (k + 1), root: roots[k]!, extensions: [] },
          signers[log]!,
        ),
      });
    const clients = 64;
    const deadline = performance.now() + opts.seconds * 1000;
    let done = 0;
    let refused = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const mine = logs.map((_, i) => i).filter((i) => i % clients === c);
        for (let k = 0; k < steps && performance.now() < deadline; k++)
          for (const log of mine) {
            if (performance.now() >= deadline) return;
            const res = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body: body(log, k) });
            await res.text();
            if (res.status === 200) done++;
            else refused++;
          }
      }),
    );
    const rate = done / ((performance.now() - start) / 1000);
    report(
      `add-checkpoint, ${opts.logs} logs, ${clients} clients`,
      rate,
      'ckpt/s',
      `${(rate / verify.perSecond).toFixed(3)} of native verify; goal ≥ 1,000; ${refused} refused (should be 0)`,
    );
    await w.stop();
    witnesses.length = 0;

    // Checkpoint signed → 2-of-3 cosigned, through the collector.
    const origin = 'bench-latency.example/log';
    const log = generateSignerKey(origin);
    const { witnesses: three, keys, policy: text } = await startThreeWitnesses(dir, log.verifierKey);
    witnesses.push(...three);
    const policy = parsePolicy(text);
    const collector = new CosignatureCollector({
      policy,
      prove: async (from, to) => proveConsistency(from, to, tree),
      log: silentLogger,
    });
    const signer = parseSignerKey(log.signerKey);
    const latencies: number[] = [];
    for (let k = 0; k < Math.min(steps, opts.seconds * 10); k++) {
      const size = STEP * (k + 1);
      const t0 = performance.now();
      collector.offer(signCheckpoint({ origin, size, root: roots[k]!, extensions: [] }, signer));
      while (collector.latestQuorum()?.size !== size && performance.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 1));
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t0))));
    }
    collector.close();
    latencies.sort((a, b) => a - b);
    const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    report(
      'signed → 2-of-3 cosigned, p50',
      q(latencies, 0.5),
      'ms',
      `${latencies.length} checkpoints, 1 every 100 ms`,
    );
    report('signed → 2-of-3 cosigned, p99', q(latencies, 0.99), 'ms', 'goal < 2,000 ms');

    // The same through `urna serve --witness-policy` at full write load: /checkpoint polled every 10 ms; for each
    // size, the time from its first appearance to its version carrying two cosignatures.
    // Another log (the witnesses hold the tree above for the first): its own key and origin.
    const served = generateSignerKey('bench-served.example/log');
    await writeFile(join(dir, 'policy'), twoOfThreePolicy(served.verifierKey, keys, three));
    await writeFile(join(dir, 'log.key'), served.signerKey + '\n', { mode: 0o600 });
    for (const [i, w] of three.entries()) {
      await w.stop();
      three[i] = await startWitness([
        ...['--data', join(dir, `w${i}`), '--key', join(dir, `w${i}.key`), '--log', log.verifierKey],
        ...['--log', served.verifierKey, '--listen', new URL(w.url).host],
      ]);
    }
    witnesses.length = 0;
    witnesses.push(...three);
    // Test defaults (no per-client rate budget: the load comes from one address).
    const serve = await startServer([
      ...['--data', join(dir, 'serve'), '--key', join(dir, 'log.key'), '--rules', 'none'],
      ...['--witness-policy', join(dir, 'policy')],
    ]);
    try {
      const firstSeen = new Map<number, number>();
      const cosignedAt = new Map<number, number>();
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const note = await (await fetch(`${serve.url}/checkpoint`)).text();
          const size = Number(note.split('\n')[1]);
          const now = performance.now();
          if (!firstSeen.has(size)) firstSeen.set(size, now);
          if ((note.match(/^— w\d\.example\/witness /gm) ?? []).length >= 2 && !cosignedAt.has(size))
            cosignedAt.set(size, now);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const load = await loadPosts(serve.url, Math.min(opts.seconds, 20), 256);
      polling = false;
      await poller;
      const waits = [...cosignedAt].map(([size, t]) => t - firstSeen.get(size)!).sort((a, b) => a - b);
      const missed = [...firstSeen.keys()].filter((size) => !cosignedAt.has(size)).length;
      report('POST /add with --witness-policy, 256 connections', load.rps, 'entries/s', `p99 ${load.p99} ms`);
      report(
        'checkpoint served → served 2-of-3 cosigned, p50',
        waits.length ? q(waits, 0.5) : NaN,
        'ms',
        `${waits.length} checkpoints seen cosigned, ${missed} superseded before their cosignatures were seen`,
      );
      report(
        'checkpoint served → served 2-of-3 cosigned, p99',
        waits.length ? q(waits, 0.99) : NaN,
        'ms',
        'goal < 2,000 ms',
      );
    } finally {
      await serve.stop();
    }

    // A split view → the first alarm: two `urna monitor` processes, each reading one side, peering over HTTP.
    const fork = forkedLog({ at: 100, mode: 'split', origin: 'bench-fork.example/log' });
    const sides = [await serveTree(fork.honest(500)), await serveTree(fork.forked(800))];
    try {
      const ports = [await freePort(), await freePort()];
      const intervalS = 1;
      const monitors = await Promise.all(
        sides.map((side, i) =>
          startListening([
            ...[URNA_BIN, 'monitor', '--log-key', fork.keys.verifierKey, '--source', side.url],
            ...['--peer', `http://127.0.0.1:${ports[1 - i]}`, '--listen', `127.0.0.1:${ports[i]}`],
            ...['--interval', String(intervalS), '--data', join(dir, `monitor-${i}`), '--log-level', 'fatal'],
          ]),
        ),
      );
      witnesses.push(...monitors);
      const t0 = performance.now(); // both listening (each has run its first round)
      const firstAlarm = async (m: ServerProcess) => {
        for (;;) {
          const st = (await (await fetch(`${m.url}/status`)).json()) as { alarms: unknown[] };
          if (st.alarms.length) return performance.now() - t0;
          if (performance.now() - t0 > 30_000) return NaN; // reported as such: no alarm in 30 s
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const times = await Promise.all(monitors.map(firstAlarm));
      report(
        'split view → alarm, both monitors',
        Math.max(...times),
        'ms',
        `from both running (the first after ${Math.round(Math.min(...times))} ms); gossip interval ${intervalS * 1000} ms, goal ≤ 2 intervals`,
      );
    } finally {
      for (const side of sides) side.server.close();
    }
  } finally {
    await Promise.all(witnesses.map((w) => w.stop()));
    await cleanup();
  }
}
