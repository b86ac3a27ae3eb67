/**
 * The witness (C2SP tlog-witness v1.0.0) over HTTP in process, on a real
 * LevelDB: every status the spec fixes, with its exact body and content
 * type; a rollback, a stale size, a bad signature, a wrong proof, an
 * unknown log, malformed and oversized bodies; concurrent requests with
 * different old sizes (exactly one wins); state kept across a restart; the
 * cosignature verifies with the ledger and with openssl on the message the
 * spec defines; a data dir that lost its database is refused.
 */
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, fromBase64, toHex, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import {
  cosignedMessage,
  generateCosignerKey,
  parseCosignature,
  parseCosignerKey,
} from '../../ledger/cosignature.js';
import { hash } from '../../ledger/hash.js';
import { MemoryHashStore, proveConsistency, treeHash } from '../../ledger/merkle.js';
import {
  generateSignerKey,
  openNote,
  parseSignatureLine,
  parseSignerKey,
  parseVerifierKey,
} from '../../ledger/note.js';
import { formatAddCheckpoint, MAX_PROOF_LINES, parseAddCheckpoint } from '../../ledger/witness.js';
import { buildWitnessApp, MAX_ADD_CHECKPOINT_BYTES } from '../../services/witness/http.js';
import { WitnessStore, WitnessStoreError } from '../../services/witness/store.js';
import { Witness } from '../../services/witness/witness.js';
import { tempDir } from '../helpers/log.js';
import { silentLogger } from '../../services/log.js';

/** A log whose tree can be signed at any size, and a fork of it from `forkAt`. */
function testLog(origin: string, n: number, fork?: { at: number; tag: string }) {
  const keys = generateSignerKey(origin);
  const signer = parseSignerKey(keys.signerKey);
  const tree = new MemoryHashStore();
  for (let i = 0; i < n; i++) {
    const forked = fork && i >= fork.at;
    tree.append(hash(utf8(`${origin} ${i}${forked ? fork.tag : ''}`)));
  }
  return {
    keys,
    signer,
    tree,
    root: (size: number) => treeHash(size, tree),
    checkpoint: (size: number, by = signer) =>
      signCheckpoint({ origin, size, root: treeHash(size, tree), extensions: [] }, by),
    proof: (from: number, to: number) => (from === 0 ? [] : proveConsistency(from, to, tree)),
  };
}

const ORIGIN = 'witness-test.example/log';
const log = testLog(ORIGIN, 2000);
const cosignerKeys = generateCosignerKey('witness.example/w1');
let dir: string;
let cleanup: () => Promise<void>;
let store: WitnessStore;
let app: Awaited<ReturnType<typeof buildWitnessApp>>;

async function openWitness() {
  store = await WitnessStore.open(join(dir, 'w'));
  const witness = new Witness({
    store,
    logs: [parseVerifierKey(log.keys.verifierKey)],
    cosigner: parseCosignerKey(cosignerKeys.signerKey),
    log: silentLogger,
  });
  app = await buildWitnessApp({ witness });
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-witness-'));
  await openWitness();
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  await cleanup?.();
});

const add = (payload: string) => app.inject({ method: 'POST', url: '/add-checkpoint', payload });
const request = (oldSize: number, size: number, opts: { proof?: Uint8Array[]; note?: string } = {}) =>
  add(
    formatAddCheckpoint({
      oldSize,
      proof: opts.proof ?? log.proof(oldSize, size),
      checkpoint: opts.note ?? log.checkpoint(size),
    }),
  );

describe('the add-checkpoint body', () => {
  it('round-trips, and refuses what the spec does not allow', () => {
    const body = formatAddCheckpoint({ oldSize: 5, proof: log.proof(5, 9), checkpoint: log.checkpoint(9) });
    expect(parseAddCheckpoint(body)).toEqual({
      oldSize: 5,
      proof: log.proof(5, 9),
      checkpoint: log.checkpoint(9),
    });
    const note = log.checkpoint(9);
    for (const bad of [
      `old 05\n\n${note}`,
      `old -1\n\n${note}`,
      `old 5\n${note}`, // no empty line
      `old 5\nnot-base64\n\n${note}`,
      `old 5\n${'A'.repeat(43)}\n\n${note}`, // not 32 bytes
      `new 5\n\n${note}`,
      `old 5\n\n`,
      `old 5\n${'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'.repeat(MAX_PROOF_LINES + 1)}\n${note}`,
    ])
      expect(() => parseAddCheckpoint(bad), JSON.stringify(bad)).toThrow();
  });
});

describe('POST /add-checkpoint', () => {
  it('404 for a log it does not witness', async () => {
    const other = testLog('unknown.example/log', 10);
    const res = await request(0, 10, { note: other.checkpoint(10) });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^unknown_log: /);
  });

  it('403 when no signature by the log key verifies (another key under the same name)', async () => {
    const impostor = parseSignerKey(generateSignerKey(ORIGIN).signerKey);
    const res = await request(0, 10, { note: log.checkpoint(10, impostor) });
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/^unverified: /);
  });

  it('400 for a malformed body, and for an old size above the checkpoint', async () => {
    expect((await add('hello')).statusCode).toBe(400);
    const res = await request(11, 10, { proof: [] });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/^old_size_too_large: /);
  });

  it('422 for a non-empty proof with old 0, before anything is held', async () => {
    const res = await request(0, 10, { proof: log.proof(5, 10) });
    expect(res.statusCode).toBe(422);
    expect(res.body).toMatch(/^bad_proof: /);
  });

  it('200 with a cosignature line; it verifies with the ledger and with openssl', async () => {
    const res = await request(0, 100);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toMatch(/^— witness\.example\/w1 [A-Za-z0-9+/=]+\n$/);
    const note = log.checkpoint(100) + res.body;
    const opened = openNote(note, [
      parseVerifierKey(cosignerKeys.verifierKey),
      parseVerifierKey(log.keys.verifierKey),
    ]);
    expect(opened.verified.map((s) => s.name).sort()).toEqual([ORIGIN, 'witness.example/w1']);
    // openssl, on the message tlog-cosignature defines: "cosignature/v1\ntime <t>\n" || the checkpoint body.
    const sig = parseSignatureLine(res.body.trimEnd());
    const { timestamp, signature } = parseCosignature(sig);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
    const body = opened.text;
    const spki = concat(fromBase64('MCowBQYDK2VwAyEA'), parseVerifierKey(cosignerKeys.verifierKey).publicKey);
    await writeFile(join(dir, 'pub.der'), spki);
    await writeFile(join(dir, 'msg'), cosignedMessage(timestamp, body));
    await writeFile(join(dir, 'sig'), signature);
    const out = execFileSync('openssl', [
      ...['pkeyutl', '-verify', '-pubin', '-keyform', 'DER', '-inkey', join(dir, 'pub.der')],
      ...['-rawin', '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig')],
    ]).toString();
    expect(out).toMatch(/Signature Verified Successfully/);
    // The monitoring endpoint serves it, cosigned.
    const latest = await app.inject(`/${toHex(hash(utf8(ORIGIN)))}/checkpoint`);
    expect(latest.statusCode).toBe(200);
    expect(latest.body).toBe(note);
    expect((await app.inject(`/${'0'.repeat(64)}/checkpoint`)).statusCode).toBe(404);
  });

  it('409 with the size it holds (text/x.tlog.size) for a stale or wrong old size, and a rollback', async () => {
    for (const [oldSize, size] of [
      [0, 200], // as if it held nothing
      [50, 200], // a size it never held
      [0, 60], // a rollback below the size it holds
    ] as const) {
      const res = await request(oldSize, size);
      expect(res.statusCode).toBe(409);
      expect(res.headers['content-type']).toBe('text/x.tlog.size');
      expect(res.body).toBe('100\n');
    }
  });

  it('422 for a consistency proof that does not verify, and 409 for another root at the size it holds', async () => {
    const proof = log.proof(100, 300);
    proof[0] = hash(utf8('not this'));
    expect((await request(100, 300, { proof })).statusCode).toBe(422);
    const fork = testLog(ORIGIN, 2000, { at: 50, tag: ' forked' });
    // The fork signed with the log's own key: a split view.
    const forked = signCheckpoint(
      { origin: ORIGIN, size: 300, root: fork.root(300), extensions: [] },
      log.signer,
    );
    const split = await request(100, 300, { proof: fork.proof(100, 300), note: forked });
    expect(split.statusCode).toBe(422);
    const same = signCheckpoint(
      { origin: ORIGIN, size: 100, root: fork.root(100), extensions: [] },
      log.signer,
    );
    const atSize = await request(100, 100, { proof: [], note: same });
    expect(atSize.statusCode).toBe(409);
    expect(atSize.body).toMatch(/^root_mismatch: /);
    // The same checkpoint again is fine (an idempotent retry).
    expect((await request(100, 100, { proof: [] })).statusCode).toBe(200);
  });

  it('with concurrent requests from one size to different sizes, exactly one wins; the others get 409', async () => {
    const sizes = [400, 500, 600, 700, 800, 900];
    const results = await Promise.all(sizes.map((s) => request(100, s)));
    const won = results.filter((r) => r.statusCode === 200);
    expect(won).toHaveLength(1);
    const winner = sizes[results.indexOf(won[0]!)]!;
    for (const r of results) if (r !== won[0]) expect([r.statusCode, r.body]).toEqual([409, `${winner}\n`]);
    // And it goes on from there.
    expect((await request(winner, 1000)).statusCode).toBe(200);
  });

  it('refuses bodies over its limit (413)', async () => {
    const res = await add('old 0\n\n' + 'x'.repeat(MAX_ADD_CHECKPOINT_BYTES));
    expect(res.statusCode).toBe(413);
  });

  it('keeps what it cosigned across a restart', async () => {
    await app.close();
    await store.close();
    await openWitness();
    const res = await request(0, 1500);
    expect([res.statusCode, res.body]).toEqual([409, '1000\n']);
    expect((await request(1000, 1500)).statusCode).toBe(200);
  });

  it('a data dir whose database is gone is refused, not started empty', async () => {
    const d = join(dir, 'lost');
    const s = await WitnessStore.open(d);
    await s.close();
    await rm(join(d, 'db'), { recursive: true });
    await expect(WitnessStore.open(d)).rejects.toThrow(WitnessStoreError);
    await rm(join(d, 'witness.json'));
    await (await WitnessStore.open(d)).close(); // a new witness: it claims nothing
  });
});
