/**
 * Crash safety with real processes: `urna serve` on LevelDB is loaded over
 * loopback and killed with SIGKILL at random moments — by the test, or by
 * its own failure injector between two steps of a batch — then restarted.
 * After every round: every entry that got a receipt is in the log at its
 * index, the new checkpoint is consistent with every checkpoint seen
 * before, and the tree recomputed from the served tiles has the signed root.
 */
import { describe, expect, it } from 'vitest';
import { equalBytes, fromBase64, fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint, type Checkpoint } from '../../ledger/checkpoint.js';
import { storedHashIndex, treeHash, verifyConsistency } from '../../ledger/merkle.js';
import { openNote, parseVerifierKey } from '../../ledger/note.js';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { tilePath, tilesForSize, TileHashReader, type Tile } from '../../ledger/tile.js';
import type { FaultPoint } from '../../services/sequencer/sequencer.js';
import { tempDir } from '../helpers/log.js';
import { startServer, type ServerProcess } from '../helpers/process.js';

const ROUNDS = 24;
const POINTS: Array<FaultPoint | 'external'> = [
  'external',
  'batch-start',
  'after-admit',
  'before-commit',
  'after-commit',
  'after-sign',
  'after-checkpoint-write',
  'after-answer',
];

interface Receipted {
  leafHash: string;
  index: number;
}

/** Submits entries with `concurrency` clients until the server dies or `maxMs` passes. */
async function load(
  server: ServerProcess,
  round: number,
  maxMs: number,
  got: Receipted[],
  seen: Set<string>,
) {
  const deadline = Date.now() + maxMs;
  let n = 0;
  let dead = false;
  const client = async (c: number) => {
    while (!dead && Date.now() < deadline) {
      const entry = utf8(`round ${round} client ${c} entry ${n++}`);
      try {
        const res = await fetch(`${server.url}/add`, {
          method: 'POST',
          body: Buffer.from(entry),
          headers: { 'content-type': 'application/octet-stream' },
        });
        if (res.status === 201 || res.status === 200) {
          const r = (await res.json()) as { index: number; leafHash: string; receipt: string };
          got.push({ leafHash: r.leafHash, index: r.index });
          seen.add(parseReceipt(r.receipt).checkpoint);
        }
      } catch {
        dead = true; // connection refused or reset: the server was killed
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
}

async function checkLog(server: ServerProcess, receipted: Receipted[], seen: Set<string>) {
  const verifier = parseVerifierKey(server.verifierKey);
  const note = await (await fetch(`${server.url}/checkpoint`)).text();
  const now = parseCheckpoint(openNote(note, [verifier]).text);
  // Consistent with every checkpoint ever seen.
  const bySize = new Map<number, Checkpoint>();
  for (const s of seen) {
    const c = parseCheckpoint(openNote(s, [verifier]).text);
    const other = bySize.get(c.size);
    if (other) expect(equalBytes(other.root, c.root), `two roots at size ${c.size}`).toBe(true);
    bySize.set(c.size, c);
  }
  for (const old of bySize.values()) {
    expect(old.size).toBeLessThanOrEqual(now.size);
    if (old.size === 0) continue;
    const res = await fetch(`${server.url}/proof/consistency?from=${old.size}&to=${now.size}`);
    const { proof } = (await res.json()) as { proof: string[] };
    verifyConsistency(old.size, now.size, old.root, now.root, proof.map(fromBase64));
  }
  // The served tiles hash to the signed root, and every receipted entry's
  // leaf hash is in the level-0 tiles at its index.
  const tiles = new Map<string, Uint8Array>();
  await Promise.all(
    tilesForSize(now.size).map(async (t) => {
      const res = await fetch(`${server.url}/${tilePath(t)}`);
      expect(res.status).toBe(200);
      tiles.set(tilePath(t), new Uint8Array(await res.arrayBuffer()));
    }),
  );
  const reader = new TileHashReader(now.size, (ts: Tile[]) => ts.map((t) => tiles.get(tilePath(t))!));
  expect(toHex(treeHash(now.size, reader))).toBe(toHex(now.root));
  const leaves = reader.readHashes(receipted.map((r) => storedHashIndex(0, r.index)));
  receipted.forEach((r, i) => expect(toHex(leaves[i]!), `receipted entry ${r.index}`).toBe(r.leafHash));
  // And the log's own receipts for a sample of them verify.
  for (const r of receipted.slice(-50)) {
    const res = await fetch(`${server.url}/receipt/${r.leafHash}`);
    expect(res.status, `receipted entry ${r.index} missing`).toBe(200);
    const text = await res.text();
    expect(parseReceipt(text).index).toBe(r.index);
    verifyReceipt(text, { leafHash: fromHex(r.leafHash) }, verifier);
  }
  return now;
}

describe('crash safety of urna serve (kill -9, failure injection)', () => {
  it(`loses no receipted entry and never forks over ${ROUNDS} kill -9 rounds`, async () => {
    const { dir, cleanup } = await tempDir('urna-crash-');
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    let lastSize = 0;
    let injected = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const point = POINTS[round % POINTS.length]!;
        const env: Record<string, string> =
          point === 'external' ? {} : { URNA_CRASH_AT: point, URNA_CRASH_PROBABILITY: '0.2' };
        const server = await startServer(['--data', dir, '--batch-ms', '10', '--rules', 'none'], env);
        const killAfter = 150 + Math.floor(Math.random() * 600);
        let killedByTest = false;
        const killer = setTimeout(() => {
          killedByTest = true;
          void server.kill();
        }, killAfter);
        await load(server, round, killAfter + 2000, receipted, seen);
        clearTimeout(killer);
        await server.kill();
        if (!killedByTest) injected++;

        const checker = await startServer(['--data', dir, '--rules', 'none']);
        try {
          const now = await checkLog(checker, receipted, seen);
          expect(now.size).toBeGreaterThanOrEqual(lastSize);
          lastSize = now.size;
        } finally {
          await checker.stop();
        }
      }
      expect(receipted.length).toBeGreaterThan(ROUNDS);
      // The failure injector really fired between batch steps in some rounds.
      expect(injected).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });
});
