/**
 * The log's side of tlog-witness: a CosignatureCollector offering
 * checkpoints to three real witnesses (in process, over loopback HTTP, on
 * LevelDB) under a 2-of-3 policy. Quorum is reached; with one witness down
 * it is still reached; with two down the newest checkpoint has the log's
 * signature and one cosignature, and the quorum comes back with a witness;
 * a witness that already holds a size (409) is caught up from it.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey, parseCosignerKey } from '../../ledger/cosignature.js';
import { hash } from '../../ledger/hash.js';
import { MemoryHashStore, proveConsistency, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { parsePolicy, verifyCheckpointPolicy } from '../../ledger/policy.js';
import { formatAddCheckpoint } from '../../ledger/witness.js';
import { silentLogger } from '../../services/log.js';
import { CosignatureCollector } from '../../services/witness/collector.js';
import { buildWitnessApp } from '../../services/witness/http.js';
import { WitnessStore } from '../../services/witness/store.js';
import { Witness } from '../../services/witness/witness.js';
import { tempDir } from '../helpers/log.js';

const ORIGIN = 'collector.example/log';
const logKeys = generateSignerKey(ORIGIN);
const signer = parseSignerKey(logKeys.signerKey);
const tree = new MemoryHashStore();
for (let i = 0; i < 3000; i++) tree.append(hash(utf8(`entry ${i}`)));
const checkpoint = (size: number) =>
  signCheckpoint({ origin: ORIGIN, size, root: treeHash(size, tree), extensions: [] }, signer);

type Running = {
  name: string;
  keys: ReturnType<typeof generateCosignerKey>;
  port: number;
  stop(): Promise<void>;
};
let dir: string;
let cleanup: () => Promise<void>;
const running = new Map<string, Running>();

async function startWitnessApp(
  name: string,
  keys = generateCosignerKey(`${name}.example/w`),
  port = 0,
): Promise<Running> {
  const store = await WitnessStore.open(join(dir, name));
  const witness = new Witness({
    store,
    logs: [parseVerifierKey(logKeys.verifierKey)],
    cosigner: parseCosignerKey(keys.signerKey),
    log: silentLogger,
  });
  const app = await buildWitnessApp({ witness });
  await app.listen({ host: '127.0.0.1', port });
  const r: Running = {
    name,
    keys,
    port: (app.server.address() as AddressInfo).port,
    stop: async () => {
      await app.close();
      await store.close();
    },
  };
  running.set(name, r);
  return r;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let collector: CosignatureCollector;
let policyText: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-collector-'));
  const ws = await Promise.all(['a', 'b', 'c'].map((n) => startWitnessApp(n)));
  // Witness c already holds size 50 (a log that restarted, or another log server of the same log).
  const res = await fetch(`http://127.0.0.1:${ws[2]!.port}/add-checkpoint`, {
    method: 'POST',
    body: formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: checkpoint(50) }),
  });
  expect(res.status).toBe(200);
  policyText =
    `log ${logKeys.verifierKey}\n` +
    ws.map((w) => `witness ${w.name} ${w.keys.verifierKey} http://127.0.0.1:${w.port}\n`).join('') +
    'group two-of-three 2 a b c\nquorum two-of-three\n';
  collector = new CosignatureCollector({
    policy: parsePolicy(policyText),
    prove: async (from, to) => proveConsistency(from, to, tree),
    log: silentLogger,
    backoffMs: { first: 20, max: 200 },
    timeoutMs: 2000,
  });
});

afterAll(async () => {
  collector?.close();
  await Promise.all([...running.values()].map((r) => r.stop().catch(() => {})));
  await cleanup?.();
});

describe('CosignatureCollector', () => {
  it('collects every witness, catching one up from the size it holds, and the quorum verifies under the policy', async () => {
    collector.offer(checkpoint(100));
    await until('three cosignatures', () => collector.newest()?.witnesses.length === 3);
    const got = collector.newest()!;
    expect(got).toMatchObject({ size: 100, witnesses: ['a', 'b', 'c'], quorum: true });
    expect(verifyCheckpointPolicy(got.note, parsePolicy(policyText))).toMatchObject({
      cosigned: ['a', 'b', 'c'],
      quorum: true,
    });
    expect(collector.latestQuorum()!.size).toBe(100);
  });

  it('with one witness down, the quorum is still reached', async () => {
    await running.get('c')!.stop();
    collector.offer(checkpoint(500));
    await until('quorum at 500', () => collector.latestQuorum()?.size === 500);
    expect(collector.newest()!.witnesses).toEqual(['a', 'b']);
  });

  it('with two down, the newest checkpoint has one cosignature; the quorum returns with a witness', async () => {
    const b = running.get('b')!;
    await b.stop();
    collector.offer(checkpoint(900));
    await until('a at 900', () => collector.newest()?.witnesses.includes('a') === true);
    expect(collector.newest()).toMatchObject({ size: 900, witnesses: ['a'], quorum: false });
    expect(collector.latestQuorum()!.size).toBe(500); // a receipt would be served under this one
    await startWitnessApp('b', b.keys, b.port); // back, with its state
    await until('quorum at 900', () => collector.latestQuorum()?.size === 900);
    expect(collector.newest()!.witnesses).toEqual(['a', 'b']);
  });

  it('ignores offers older than the newest', () => {
    collector.offer(checkpoint(800));
    expect(collector.newest()!.size).toBe(900);
  });

  it('asks a witness that holds a larger tree once, then waits for a newer checkpoint (no request loop)', async () => {
    let requests = 0;
    const ahead = new CosignatureCollector({
      policy: parsePolicy(policyText),
      prove: async (from, to) => proveConsistency(from, to, tree),
      log: silentLogger,
      backoffMs: { first: 20, max: 200 },
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        requests++;
        return fetch(input, init);
      }) as typeof fetch,
    });
    ahead.offer(checkpoint(40)); // the witnesses hold 900
    await new Promise((r) => setTimeout(r, 300));
    expect(requests).toBeLessThanOrEqual(2 * ahead.asked.length);
    ahead.offer(checkpoint(1000));
    await until('a cosignature at 1000', () => (ahead.newest()?.witnesses.length ?? 0) >= 2);
    ahead.close();
  });

  it('absorbs cosigned checkpoints from elsewhere (NATS, the kept copy): verified, merged, never asking', () => {
    const policy = parsePolicy(policyText);
    const seen: number[] = [];
    const passive = new CosignatureCollector({
      policy,
      prove: async () => {
        throw new Error('a passive collector computes no proof');
      },
      log: silentLogger,
      onQuorum: (c) => seen.push(c.size),
    });
    const cosigned = collector.latestQuorum()!;
    expect(passive.absorb(cosigned.note, ORIGIN)).toBe(true);
    expect(passive.latestQuorum()).toEqual(cosigned);
    expect(seen).toEqual([900]);
    // The same checkpoint with one cosignature only: merged, nothing lost.
    const lines = cosigned.note.split('\n');
    const single = lines.slice(0, lines.length - 2).join('\n') + '\n';
    expect(passive.absorb(single, ORIGIN)).toBe(true);
    expect(passive.latestQuorum()!.witnesses).toEqual(cosigned.witnesses);
    // Another origin, a tampered note, a note the log did not sign: refused.
    expect(passive.absorb(cosigned.note, 'other.example/log')).toBe(false);
    expect(passive.absorb(cosigned.note.replace(/\n\d+\n/, '\n901\n'), ORIGIN)).toBe(false);
    expect(passive.absorb('not a note', ORIGIN)).toBe(false);
    passive.close();
  });
});
