/**
 * What keeping the promises under faults and abuse costs
 * (`npm run bench -- faults`):
 *  - the start-up check (the stored edge against the head, the store
 *    against the signer state) and a scrub pass, per million entries, on a
 *    LevelDB log built in process, beside the raw native SHA-256 rate;
 *  - a legitimate client's p99 submission latency unloaded, then under each
 *    flood from one other address (rejected records, proofs at random
 *    sizes, half-sent requests), with the shipped limits, in one run.
 */
import { rawSha256 } from '../../services/crypto/native-sha256.js';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fromBase64 } from '../../ledger/bytes.js';
import { setSha256Backend } from '../../ledger/hash.js';
import { ED25519_TYPE, formatVerifierKey } from '../../ledger/note.js';
import { nativeSha256 } from '../../services/crypto/native-sha256.js';
import { silentLogger } from '../../services/log.js';
import { Scrubber } from '../../services/node/scrub.js';
import { Sequencer } from '../../services/sequencer/sequencer.js';
import { TileCache } from '../../services/node/tile-cache.js';
import { openDataDir } from '../../services/storage/data-dir.js';
import { clientFrom, halfSent, percentile, randomProofPath, rejectedRecord } from '../helpers/abuse.js';
import { buildElection } from '../helpers/election.js';
import { tempDir } from '../helpers/log.js';
import { SHIPPED_NODE_ENV, startServer } from '../helpers/process.js';
import { openBenchLog } from './in-process-log.js';
import { sha256Rate } from './limits.js';
import type { Report } from './report.js';

/** Builds a LevelDB log of `n` opaque entries in `dir` through the sequencer, in big batches. */
async function buildLog(dir: string, n: number) {
  const log = await openBenchLog(dir);
  await log.append(0, n);
  await log.close();
  return log;
}

export async function benchStartupAndScrub(report: Report, entries: number): Promise<void> {
  setSha256Backend(nativeSha256);
  const sha = sha256Rate(rawSha256, 1000);
  report('native sha256 64-byte input', sha, 'hash/s', 'limit');
  const { dir, cleanup } = await tempDir('urna-bench-faults-');
  try {
    let t0 = performance.now();
    const { signer, verifier, signerState } = await buildLog(dir, entries);
    report(
      `built a LevelDB log of ${entries.toLocaleString('en-US')} entries`,
      (performance.now() - t0) / 1000,
      's',
    );
    // The start-up check: open the data dir, check the edge against the head and the store against the signer state.
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      const { store } = await openDataDir(join(dir, 'data'), { origin: signer.name });
      const s = await Sequencer.open({ store, signer, verifier, signerState });
      starts.push(performance.now() - t0);
      await s.stop();
      await store.close();
    }
    starts.sort((a, b) => a - b);
    report(
      'start-up check (open, edge, signer state)',
      starts[2]!,
      'ms',
      `median of 5, at ${entries.toLocaleString('en-US')} entries`,
    );
    // A scrub pass at an unbounded rate: wall and CPU time per million entries.
    const { store } = await openDataDir(join(dir, 'data'), { origin: signer.name });
    const s = await Sequencer.open({ store, signer, verifier, signerState, tiles: new TileCache(store) });
    const scrub = new Scrubber({
      store,
      head: () => s.head,
      entriesPerSecond: 1e12,
      onCorrupt: () => {},
      log: silentLogger,
    });
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    const n = await scrub.pass();
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    report(
      'scrub pass, per million entries',
      (wall * 1e6) / n,
      's',
      `${Math.round(n / wall).toLocaleString('en-US')} entries/s`,
    );
    report(
      '  cpu per million entries',
      (cpuSeconds * 1e6) / n,
      's',
      `${((cpuSeconds * sha) / n).toFixed(1)} native hashes' worth per entry`,
    );
    await s.stop();
    await store.close();
  } finally {
    await cleanup();
  }
}

export async function benchFloods(report: Report, seconds: number): Promise<void> {
  const f = buildElection({ id: 'bench-flood', voters: 64 });
  const authority = formatVerifierKey('authority.example', ED25519_TYPE, fromBase64(f.authority.key));
  const { dir, cleanup } = await tempDir('urna-bench-flood-');
  const server = await startServer(['--data', join(dir, 'data'), '--authority', authority], SHIPPED_NODE_ENV);
  const legit = clientFrom('127.0.0.7', 1);
  try {
    for (const r of [f.election(), f.credentials(), f.phase('open')])
      await legit.send(`${server.url}/add`, 'POST', r);
    let voter = 0;
    const ballot = () => f.ballot(f.voters[voter++ % f.voters.length]!);
    const preload = clientFrom('127.0.0.6', 32);
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = 0; i < 100; i++) await preload.send(`${server.url}/add`, 'POST', ballot());
      }),
    );
    preload.close();
    const size = 3203;
    /** The legitimate client's latencies, one submission after another, for `seconds`. */
    const measure = async () => {
      const out: number[] = [];
      const end = performance.now() + seconds * 1000;
      while (performance.now() < end) {
        const t0 = performance.now();
        const { status } = await legit.send(`${server.url}/add`, 'POST', ballot());
        if (status !== 201) throw new Error(`legitimate submission answered ${status}`);
        out.push(performance.now() - t0);
      }
      return out;
    };
    const unloaded = percentile(await measure(), 0.99);
    report('legitimate p99, unloaded (batch period 100 ms)', unloaded, 'ms', 'baseline');
    /** 64 clients from one address sending `path(k, i)` (with `body(k, i)`, a POST) until `stop()`; the answers by status. */
    const flooder =
      (
        address: string,
        path: (k: number, i: number) => string,
        body?: (k: number, i: number) => Uint8Array,
      ) =>
      async (stop: () => boolean) => {
        const c = clientFrom(address, 64);
        const answers = new Map<number, number>();
        await Promise.all(
          Array.from({ length: 64 }, async (_, k) => {
            for (let i = 0; !stop(); i++) {
              const { status } = await c.send(
                `${server.url}/${path(k, i)}`,
                body ? 'POST' : 'GET',
                body?.(k, i),
              );
              answers.set(status, (answers.get(status) ?? 0) + 1);
            }
          }),
        );
        c.close();
        return answers;
      };
    const floods: Record<string, (stop: () => boolean) => Promise<Map<number, number>>> = {
      'rejected records': flooder(
        '127.0.0.8',
        () => 'add',
        (k, i) => rejectedRecord('bench-flood', k, i),
      ),
      'proofs at random sizes': flooder('127.0.0.9', (k, i) => randomProofPath(size, k + i)),
      'half-sent requests': async (stop) => {
        const port = Number(new URL(server.url).port);
        const open = new Set<Socket>();
        let opened = 0;
        while (!stop()) {
          if (open.size >= 1000) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          const s = await halfSent(port, `127.0.0.${10 + (opened % 8)}`);
          s.on('close', () => open.delete(s));
          open.add(s);
          opened++;
        }
        for (const s of open) s.destroy();
        return new Map([[0, opened]]);
      },
    };
    for (const [name, flood] of Object.entries(floods)) {
      let flooding = true;
      const running = flood(() => !flooding);
      await new Promise((r) => setTimeout(r, 1000));
      const loaded = percentile(await measure(), 0.99);
      flooding = false;
      const answers = await running;
      const seen = [...answers]
        .map(([s, k]) => `${s === 0 ? 'connections' : s}: ${k.toLocaleString('en-US')}`)
        .join(', ');
      report(
        `legitimate p99, flood of ${name}`,
        loaded,
        'ms',
        `x${(loaded / unloaded).toFixed(2)} of unloaded; flood ${seen}`,
      );
    }
  } finally {
    legit.close();
    await server.stop();
    await cleanup();
  }
}
