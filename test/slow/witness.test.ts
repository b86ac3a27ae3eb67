/**
 * `urna witness` as a real process on loopback, killed with SIGKILL at
 * random moments while a log (and a fork of it signed with the same key)
 * submits checkpoints concurrently: after every restart the size it holds
 * is at least the largest it answered 200 for (its state never regresses
 * below what it cosigned), and it never cosigns a checkpoint of the fork.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey } from '../../ledger/cosignature.js';
import { hash } from '../../ledger/hash.js';
import { MemoryHashStore, proveConsistency, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, openNote, parseSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { formatAddCheckpoint } from '../../ledger/witness.js';
import { tempDir } from '../helpers/log.js';
import { startWitness, type ServerProcess } from '../helpers/process.js';

const ORIGIN = 'witness-crash.example/log';
const SIZE = 5000;
const ROUNDS = 12;

const logKeys = generateSignerKey(ORIGIN);
const signer = parseSignerKey(logKeys.signerKey);
const honest = new MemoryHashStore();
const forked = new MemoryHashStore();
for (let i = 0; i < SIZE; i++) {
  honest.append(hash(utf8(`entry ${i}`)));
  forked.append(hash(utf8(i < 100 ? `entry ${i}` : `rewritten ${i}`)));
}
const note = (tree: MemoryHashStore, size: number) =>
  signCheckpoint({ origin: ORIGIN, size, root: treeHash(size, tree), extensions: [] }, signer);
const body = (tree: MemoryHashStore, from: number, to: number) =>
  formatAddCheckpoint({
    oldSize: from,
    proof: from === 0 ? [] : proveConsistency(from, to, tree),
    checkpoint: note(tree, to),
  });

let dir: string;
let cleanup: () => Promise<void>;
const keys = generateCosignerKey('witness-crash.example/w');
let args: string[];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-witness-slow-'));
  await writeFile(join(dir, 'w.key'), keys.signerKey + '\n', { mode: 0o600 });
  args = ['--data', join(dir, 'data'), '--key', join(dir, 'w.key'), '--log', logKeys.verifierKey];
});
afterAll(async () => cleanup?.());

async function post(w: ServerProcess, payload: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body: payload });
  return { status: res.status, text: await res.text() };
}

describe('urna witness under kill -9', () => {
  it(`never regresses below a size it cosigned and never cosigns the fork, over ${ROUNDS} rounds`, async () => {
    let cosigned = 0; // the largest size answered 200
    let next = 100; // from here on the fork is inconsistent with every size the witness holds
    const verifiers = [parseVerifierKey(keys.verifierKey), parseVerifierKey(logKeys.verifierKey)];
    for (let round = 0; round < ROUNDS && next < SIZE; round++) {
      const w = await startWitness(args);
      // What it holds after the restart: 409 names it (or 200 if it held nothing and took this one).
      const probe = await post(w, body(honest, 0, next));
      let held = probe.status === 200 ? next : Number(probe.text.trim());
      if (probe.status === 200) cosigned = Math.max(cosigned, next);
      expect(held, `round ${round}: holds ${held}, cosigned ${cosigned}`).toBeGreaterThanOrEqual(cosigned);
      // Four clients race from the size held; a fork submission beside each.
      const killAt = 20 + Math.floor(Math.random() * 200);
      const killer = new Promise<void>((r) => setTimeout(r, killAt)).then(() => w.kill());
      const clients = Array.from({ length: 4 }, async () => {
        for (;;) {
          const to = Math.min(SIZE, held + 1 + Math.floor(Math.random() * 40));
          if (to <= held) return;
          const from = held;
          try {
            const [good, bad] = await Promise.all([
              post(w, body(honest, from, to)),
              post(w, body(forked, from, to)),
            ]);
            expect(bad.status, 'a fork was cosigned').not.toBe(200);
            if (good.status === 200) {
              const opened = openNote(note(honest, to) + good.text, verifiers);
              expect(opened.verified).toHaveLength(2);
              cosigned = Math.max(cosigned, to);
              held = Math.max(held, to);
            } else if (good.status === 409) held = Math.max(held, Number(good.text.trim()) || held);
          } catch {
            return; // killed
          }
        }
      });
      await Promise.all([killer, ...clients]);
      next = held + 1;
    }
    console.log(`witness under kill -9: ${ROUNDS} rounds, cosigned up to size ${cosigned}`);
    expect(cosigned).toBeGreaterThan(100);
    const w = await startWitness(args);
    try {
      const probe = await post(w, body(honest, 0, SIZE));
      expect(probe.status).toBe(409);
      expect(Number(probe.text.trim())).toBeGreaterThanOrEqual(cosigned);
    } finally {
      await w.stop();
    }
  });
});
