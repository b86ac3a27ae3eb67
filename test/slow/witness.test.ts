/**
 * `urna witness` as a real process on loopback, killed with SIGKILL at
 * random moments while a log (and a fork of it signed with the same key)
 * submits checkpoints concurrently: after every restart the size it holds
 * is at least the largest it answered 200 for (its state never regresses
 * below what it cosigned), and it never cosigns a checkpoint of the fork.
 *
 * `urna serve --witness-policy` with three `urna witness` processes and a
 * quorum of two: checkpoints and receipts carry the cosignatures; with one
 * witness down receipts still reach the quorum; with two down a new entry's
 * receipt is under the log's signature only, and its cosigned receipt comes
 * once a witness is back.
 *
 * `urna witness --nats` follows a replicated log's checkpoint subject,
 * computes the consistency proofs itself from the log's tiles, and
 * publishes its cosignatures on urna.<log>.cosig.
 */
import { writeFile } from 'node:fs/promises';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { parsePolicy, verifyCheckpointPolicy } from '../../ledger/policy.js';
import { fromHex, toHex } from '../../ledger/bytes.js';
import { connect } from 'nats';
import { subjects } from '../../services/journal/subjects.js';
import { startNatsServer } from '../helpers/nats.js';
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
import { startMirror, startServer, startWitness, type ServerProcess } from '../helpers/process.js';
import { post as postEntry } from '../helpers/audit.js';

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

/** A mirror of the log `logKey` over `natsUrl` with a one-witness policy (quorum: that witness). */
async function policyMirror(
  name: string,
  natsUrl: string,
  logKey: string,
  witnessKey: string,
): Promise<ServerProcess> {
  await writeFile(join(dir, `${name}-policy`), `log ${logKey}\nwitness w ${witnessKey}\nquorum w\n`);
  return startMirror([
    ...['--nats', natsUrl, '--log-key', logKey, '--rules', 'none', '--data', join(dir, name)],
    ...['--witness-policy', join(dir, `${name}-policy`)],
  ]);
}

/** Polls `node`'s receipt for `leafHash` until its Urna-Witnesses header names `want` (10 s at most); returns it. */
async function receiptWitnesses(
  node: ServerProcess,
  leafHash: string,
  want: string,
): Promise<{ status: number; witnesses: string }> {
  let last = { status: 0, witnesses: '' };
  for (let i = 0; i < 100 && last.witnesses !== want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${node.url}/receipt/${leafHash}`);
    last = { status: res.status, witnesses: res.headers.get('urna-witnesses') ?? '' };
    await res.text();
  }
  return last;
}

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

describe('urna serve --witness-policy', () => {
  it('collects cosignatures from three witnesses; a 2-of-3 quorum survives one down, and returns after two', async () => {
    const log = generateSignerKey('cosigned.example/log');
    await writeFile(join(dir, 'log.key'), log.signerKey + '\n', { mode: 0o600 });
    const wkeys = ['a', 'b', 'c'].map((n) => generateCosignerKey(`${n}.example/witness`));
    const witnesses: ServerProcess[] = [];
    const wargs = (i: number) => [
      ...['--data', join(dir, `w${i}`), '--key', join(dir, `w${i}.key`), '--log', log.verifierKey],
    ];
    for (const [i, k] of wkeys.entries()) {
      await writeFile(join(dir, `w${i}.key`), k.signerKey + '\n', { mode: 0o600 });
      witnesses.push(await startWitness(wargs(i)));
    }
    const policyText =
      `log ${log.verifierKey}\n` +
      wkeys.map((k, i) => `witness w${i} ${k.verifierKey} ${witnesses[i]!.url}\n`).join('') +
      'group two 2 w0 w1 w2\nquorum two\n';
    await writeFile(join(dir, 'policy'), policyText);
    const policy = parsePolicy(policyText);
    const serveArgs = [
      ...['--data', join(dir, 'log-data'), '--key', join(dir, 'log.key'), '--rules', 'none'],
      ...['--witness-policy', join(dir, 'policy'), '--batch-ms', '20'],
    ];
    let server = await startServer(serveArgs);
    const logVerifier = parseVerifierKey(log.verifierKey);
    const witnessVerifiers = wkeys.map((k) => parseVerifierKey(k.verifierKey));
    const until = async (what: string, ok: () => Promise<boolean>) => {
      for (let i = 0; i < 300; i++) {
        if (await ok()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out: ${what}`);
    };
    const receiptOf = async (leafHash: string) => {
      const res = await fetch(`${server.url}/receipt/${leafHash}`);
      return { text: await res.text(), witnesses: res.headers.get('urna-witnesses') ?? '' };
    };
    try {
      const first = await postEntry(server, utf8('entry one'));
      expect(first.status).toBe(201);
      await until('three cosignatures on /checkpoint', async () => {
        const note = await (await fetch(`${server.url}/checkpoint`)).text();
        return verifyCheckpointPolicy(note, policy).cosigned.length === 3;
      });
      const r1 = await receiptOf(first.body.leafHash);
      expect(r1.witnesses.split(' ').sort()).toEqual(['w0', 'w1', 'w2']);
      const subject = (h: string) => ({ leafHash: fromHex(h) });
      expect(
        verifyReceipt(r1.text, subject(first.body.leafHash), logVerifier, {
          witnesses: witnessVerifiers,
          quorum: 2,
        }).receipt.index,
      ).toBe(first.body.index);

      // One witness down: the quorum is still reached for a new entry.
      await witnesses[2]!.kill();
      const second = await postEntry(server, utf8('entry two'));
      await until(
        'a cosigned receipt for entry two',
        async () => (await receiptOf(second.body.leafHash)).witnesses.split(' ').length === 2,
      );
      const r2 = await receiptOf(second.body.leafHash);
      verifyReceipt(r2.text, subject(second.body.leafHash), logVerifier, {
        witnesses: witnessVerifiers,
        quorum: 2,
      });

      // Two down: the new entry's receipt is under the log's signature only, and says so.
      await witnesses[1]!.kill();
      const third = await postEntry(server, utf8('entry three'));
      expect(third.status).toBe(201); // the write path is not held up
      const r3 = await receiptOf(third.body.leafHash);
      expect(r3.witnesses).toMatch(/^none/);
      expect(parseReceipt(r3.text).index).toBe(third.body.index);
      verifyReceipt(r3.text, subject(third.body.leafHash), logVerifier);
      expect(() =>
        verifyReceipt(r3.text, subject(third.body.leafHash), logVerifier, {
          witnesses: witnessVerifiers,
          quorum: 2,
        }),
      ).toThrow();
      // A witness comes back (with its state): the cosigned receipt follows.
      witnesses[1] = await startWitness([...wargs(1), '--listen', new URL(witnesses[1]!.url).host]); // at its URL in the policy
      await until(
        'a cosigned receipt for entry three',
        async () => !(await receiptOf(third.body.leafHash)).witnesses.startsWith('none'),
      );
      const back = await receiptOf(third.body.leafHash);
      verifyReceipt(back.text, subject(third.body.leafHash), logVerifier, {
        witnesses: witnessVerifiers,
        quorum: 2,
      });
      // Restarted with every witness down, it still serves the cosigned receipt it kept.
      await Promise.all(witnesses.map((w) => w.kill()));
      await server.stop();
      server = await startServer(serveArgs);
      const kept = await receiptOf(third.body.leafHash);
      expect(kept.witnesses).not.toMatch(/^none/);
      verifyReceipt(kept.text, subject(third.body.leafHash), logVerifier, {
        witnesses: witnessVerifiers,
        quorum: 2,
      });
    } finally {
      await server.stop();
      await Promise.all(witnesses.map((w) => w.stop()));
    }
  });
});

describe('urna witness --nats', () => {
  it('follows urna.<log>.checkpoint and publishes cosignatures on urna.<log>.cosig', async () => {
    const nats = await startNatsServer({ name: 'witness-follow' });
    const nc = await connect({ servers: nats.url });
    const log = generateSignerKey('followed.example/log');
    await writeFile(join(dir, 'followed.key'), log.signerKey + '\n', { mode: 0o600 });
    const wkey = generateCosignerKey('follower.example/witness');
    await writeFile(join(dir, 'follower.key'), wkey.signerKey + '\n', { mode: 0o600 });
    const server = await startServer([
      ...['--data', join(dir, 'followed-data'), '--key', join(dir, 'followed.key'), '--rules', 'none'],
      ...['--nats', nats.url, '--batch-ms', '20'],
    ]);
    const cosigned: string[] = [];
    const sub = nc.subscribe(subjects('followed.example/log').cosig);
    void (async () => {
      for await (const m of sub) cosigned.push(new TextDecoder().decode(m.data));
    })();
    const w = await startWitness([
      ...['--data', join(dir, 'follower-data'), '--key', join(dir, 'follower.key')],
      ...['--log', `${log.verifierKey}=${server.url}`, '--nats', nats.url],
    ]);
    try {
      const verifiers = [parseVerifierKey(log.verifierKey), parseVerifierKey(wkey.verifierKey)];
      for (let round = 0; round < 5; round++) {
        const sizes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => postEntry(server, utf8(`r${round} e${i}`))),
        );
        expect(sizes.every((s) => s.status === 201)).toBe(true);
        await new Promise((r) => setTimeout(r, 100));
      }
      const last = await (await fetch(`${server.url}/checkpoint`)).text();
      const lastSize = Number(last.split('\n')[1]);
      for (let i = 0; i < 100 && !cosigned.some((n) => n.split('\n')[1] === String(lastSize)); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(cosigned.length).toBeGreaterThan(1);
      for (const n of cosigned) expect(openNote(n, verifiers).verified).toHaveLength(2);
      expect(cosigned.map((n) => Number(n.split('\n')[1]))).toContain(lastSize);
      const held = await fetch(`${w.url}/${toHex(hash(utf8('followed.example/log')))}/checkpoint`);
      expect(held.status).toBe(200);
      expect(Number((await held.text()).split('\n')[1])).toBe(lastSize);

      // A mirror given the policy serves the cosignatures published on urna.<log>.cosig.
      const mirror = await policyMirror('follow-mirror', nats.url, log.verifierKey, wkey.verifierKey);
      try {
        const one = await postEntry(server, utf8('seen by the mirror'));
        const receipt = await receiptWitnesses(mirror, one.body.leafHash, 'w');
        expect(receipt).toEqual({ status: 200, witnesses: 'w' });
        const note = await (await fetch(`${mirror.url}/checkpoint`)).text();
        expect(openNote(note, verifiers).verified.length).toBeGreaterThanOrEqual(1);
      } finally {
        await mirror.stop();
      }
    } finally {
      sub.unsubscribe();
      await w.stop();
      await server.stop();
      await nc.close();
      await nats.dispose();
    }
  });
});

describe('urna serve --nats --witness-policy', () => {
  it("publishes the quorum's cosigned checkpoints on urna.<log>.cosig; a mirror given the policy serves them", async () => {
    const nats = await startNatsServer({ name: 'cosig-publish' });
    const log = generateSignerKey('published.example/log');
    await writeFile(join(dir, 'published.key'), log.signerKey + '\n', { mode: 0o600 });
    const wkey = generateCosignerKey('publisher.example/witness');
    await writeFile(join(dir, 'publisher.key'), wkey.signerKey + '\n', { mode: 0o600 });
    const w = await startWitness([
      ...[
        '--data',
        join(dir, 'publisher-data'),
        '--key',
        join(dir, 'publisher.key'),
        '--log',
        log.verifierKey,
      ],
    ]);
    await writeFile(
      join(dir, 'published-policy'),
      `log ${log.verifierKey}\nwitness w ${wkey.verifierKey} ${w.url}\nquorum w\n`,
    );
    const server = await startServer([
      ...['--data', join(dir, 'published-data'), '--key', join(dir, 'published.key'), '--rules', 'none'],
      ...['--nats', nats.url, '--witness-policy', join(dir, 'published-policy'), '--batch-ms', '20'],
    ]);
    const mirror = await policyMirror('published-mirror', nats.url, log.verifierKey, wkey.verifierKey);
    try {
      const entry = await postEntry(server, utf8('cosigned through the leader'));
      expect(entry.status).toBe(201);
      const { witnesses } = await receiptWitnesses(mirror, entry.body.leafHash, 'w');
      expect(witnesses).toBe('w');
    } finally {
      await mirror.stop();
      await server.stop();
      await w.stop();
      await nats.dispose();
    }
  });
});
