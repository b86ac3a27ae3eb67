/**
 * `urna mirror` against a real nats-server (one node, R1) and a real
 * `urna serve --nats` sequencer (--rules none, --batch-ms 20):
 *  - under steady load (16 clients) the mirror follows the leader: its lag
 *    is measured (console.log, not asserted); then it is killed (-9), its
 *    data dir deleted, and it is restarted while the load goes on: it
 *    catches up (rate measured), serves the leader's latest checkpoint
 *    bytes, and its inclusion and consistency proofs verify against the
 *    leader's checkpoints;
 *  - a stopped mirror whose stored edge tile (the rightmost level-1 tile, or
 *    the partial level-0 tile) is corrupted on disk refuses to serve a root
 *    it cannot prove (it refuses to start, or answers /checkpoint and
 *    /healthz 503);
 *  - a stopped mirror whose full level-0 tile off the root path is corrupted
 *    never serves data that fails verification: /tile/0/N is the leader's
 *    bytes or an error, inclusion proofs and receipts verify against the
 *    leader's root or are refused;
 *  - in both cases the documented remedy, a restart from an empty data dir,
 *    rebuilds it from the journal.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint, type Checkpoint } from '../../ledger/checkpoint.js';
import { verifyConsistency, verifyInclusion } from '../../ledger/merkle.js';
import { generateSignerKey, openNote, parseVerifierKey, type NoteVerifier } from '../../ledger/note.js';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { tilePath, TILE_WIDTH, type Tile } from '../../ledger/tile.js';
import { checkLog, checkpointOf, post, type Receipted } from '../helpers/audit.js';
import { tempDir } from '../helpers/log.js';
import { flipTileByte, steadyLoad, waitUntil } from '../helpers/mirror.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { startMirror, StartError, startServer, type ServerProcess } from '../helpers/process.js';

const ORIGIN = 'mirror-slow.example/log';
/** Load before the mirror is killed (lag measured): at least `min` ms, then until STEADY_ENTRIES receipts or `max` ms. */
const STEADY_MS = { min: 4000, max: 10_000 };
const STEADY_ENTRIES = 2500;
/** Load after the restarted mirror caught up. */
const AFTER_RESTART_MS = 2000;
/** Bound on one HTTP request. */
const REQUEST_MS = 10_000;

let nats: NatsServer;
let dir: string;
let cleanup: () => Promise<void>;
let verifier: NoteVerifier;
let vkeyFile: string;
let leader: ServerProcess;
let mirror: ServerProcess | null = null;
let mirrorData: string;
const receipted: Receipted[] = [];
const seen = new Set<string>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mirrorArgs(): string[] {
  return ['--nats', nats.url, '--log-key', vkeyFile, '--rules', 'none', '--data', mirrorData];
}

function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(REQUEST_MS) });
}

function checkpointFrom(note: string): Checkpoint {
  return parseCheckpoint(openNote(note, [verifier]).text);
}

/** The size of the checkpoint `server` serves, or null (503 while catching up, or no answer). */
async function servedSize(server: { url: string } | null): Promise<number | null> {
  if (!server) return null;
  try {
    const res = await get(`${server.url}/checkpoint`);
    if (res.status !== 200) return null;
    return checkpointFrom(await res.text()).size;
  } catch {
    return null;
  }
}

/** Waits (bounded) until the mirror serves exactly the leader's current checkpoint; returns it. */
async function mirrorCaughtUp(timeoutMs = 60_000): Promise<string> {
  const note = await checkpointOf(leader);
  await waitUntil(
    async () => mirror !== null && (await servedSize(mirror)) === checkpointFrom(note).size,
    `the mirror to serve size ${checkpointFrom(note).size}`,
    timeoutMs,
    50,
  );
  expect(await checkpointOf(mirror!)).toBe(note);
  return note;
}

/** Submits `n` more entries to the leader (16 at a time), receipts to `receipted`. */
async function topUp(n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, n - i) }, async (_, j) => {
        const { status, body } = await post(leader, utf8(`${tag} ${i + j}`));
        expect(status).toBe(201);
        receipted.push({ leafHash: body.leafHash, index: body.index });
        seen.add(parseReceipt(body.receipt).checkpoint);
      }),
    );
  }
}

/**
 * A quiet leader holding at least `min` entries, with partial tiles at
 * levels 0 and 1 (at least 3 hashes in the level-1 one), and a running
 * mirror serving its checkpoint. Returns that checkpoint.
 */
async function quietLog(min: number): Promise<{ note: string; checkpoint: Checkpoint }> {
  for (let round = 0; round < 20; round++) {
    const { size } = checkpointFrom(await checkpointOf(leader));
    const level1 = Math.floor(size / TILE_WIDTH) % TILE_WIDTH;
    if (size >= min && size % TILE_WIDTH !== 0 && level1 >= 3) break;
    await topUp(Math.max(1, min - size), `top-up ${round}`);
  }
  mirror ??= await startMirror(mirrorArgs());
  const note = await mirrorCaughtUp();
  return { note, checkpoint: checkpointFrom(note) };
}

/** The p-quantile (0..1) of `xs`, nearest rank. */
function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** SIGTERM to the mirror; it exits 0. */
async function stopMirror(): Promise<void> {
  const m = mirror!;
  mirror = null;
  await m.stop();
  expect(await m.exited, m.output()).toBe(0);
}

/** The documented remedy: an empty data dir, a restart, a catch-up from the journal; then audited. */
async function rebuildMirror(): Promise<string> {
  if (mirror) await mirror.kill();
  mirror = null;
  await rm(mirrorData, { recursive: true, force: true });
  const started = performance.now();
  mirror = await startMirror(mirrorArgs());
  const note = await mirrorCaughtUp();
  console.log(
    `mirror rebuilt from an empty data dir: ${checkpointFrom(note).size} entries in ${Math.round(performance.now() - started)} ms (start included)`,
  );
  await checkLog(mirror, receipted, seen);
  return note;
}

beforeAll(async () => {
  nats = await startNatsServer({ name: 'mirror' });
  ({ dir, cleanup } = await tempDir('urna-mirror-'));
  const { signerKey, verifierKey } = generateSignerKey(ORIGIN);
  verifier = parseVerifierKey(verifierKey);
  const keyFile = join(dir, 'log.key');
  await writeFile(keyFile, signerKey + '\n', { mode: 0o600 });
  vkeyFile = join(dir, 'log.vkey');
  await writeFile(vkeyFile, verifierKey + '\n');
  mirrorData = join(dir, 'mirror');
  leader = await startServer([
    '--data',
    join(dir, 'leader'),
    '--key',
    keyFile,
    '--nats',
    nats.url,
    '--rules',
    'none',
    '--batch-ms',
    '20',
  ]);
});

afterAll(async () => {
  await mirror?.kill();
  await leader?.kill();
  await nats?.dispose();
  await cleanup?.();
});

describe('urna mirror', () => {
  it('restarted from an empty disk under load, catches up and proves the leader checkpoints', async () => {
    mirror = await startMirror(mirrorArgs());
    expect(parseVerifierKey(mirror.verifierKey).name).toBe(ORIGIN);
    await mirrorCaughtUp(); // the empty log's checkpoint

    // Steady load; both /checkpoint polled every 50 ms.
    const leaderFirstSeen = new Map<number, number>();
    const mirrorSamples: Array<{ t: number; size: number }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        const [l, m] = await Promise.all([servedSize(leader), servedSize(mirror)]);
        if (l !== null && !leaderFirstSeen.has(l)) leaderFirstSeen.set(l, t);
        if (m !== null) mirrorSamples.push({ t: performance.now(), size: m });
        await sleep(Math.max(0, 50 - (performance.now() - t)));
      }
    })();
    const loading = steadyLoad(leader.url, 'steady', receipted, seen);
    const loadStarted = performance.now();
    // At least STEADY_MS, then until a few thousand entries (bounded).
    await sleep(STEADY_MS.min);
    await waitUntil(
      () => loading.receipted >= STEADY_ENTRIES,
      'steady load',
      STEADY_MS.max - STEADY_MS.min,
      50,
    ).catch(() => {}); // a slow machine: go on with fewer
    polling = false;
    await poller;
    const steadySeconds = (performance.now() - loadStarted) / 1000;

    const delays: number[] = [];
    for (const [size, t] of leaderFirstSeen) {
      if (size === 0) continue;
      const served = mirrorSamples.find((s) => s.size >= size);
      if (served) delays.push(Math.max(0, served.t - t));
    }
    console.log(
      `mirror lag at steady load (16 clients, ${loading.receipted} entries in ${steadySeconds.toFixed(1)} s, ` +
        `${Math.round(loading.receipted / steadySeconds)} entries/s at the leader; ${delays.length} leader ` +
        `checkpoints seen, 50 ms polling): p50 ${Math.round(quantile(delays, 0.5))} ms, ` +
        `p99 ${Math.round(quantile(delays, 0.99))} ms, max ${Math.round(Math.max(...delays))} ms`,
    );
    expect(delays.length).toBeGreaterThan(10);

    // kill -9, an empty data dir, a restart while the load goes on.
    await mirror.kill();
    mirror = null;
    await rm(mirrorData, { recursive: true, force: true });
    const target = checkpointFrom(await checkpointOf(leader)).size;
    const spawned = performance.now();
    mirror = await startMirror(mirrorArgs());
    const listening = performance.now();
    await waitUntil(
      async () => ((await servedSize(mirror)) ?? -1) >= target,
      `the restarted mirror to reach size ${target}`,
      60_000,
      50,
    );
    const caughtUp = performance.now();
    const seconds = (caughtUp - listening) / 1000;
    const metrics = await (await get(`${mirror.url}/metrics`)).text();
    const batches = Number(/^urna_mirror_batches_applied_total (\d+)$/m.exec(metrics)?.[1]);
    console.log(
      `mirror catch-up from an empty disk under load: ${target} entries in ${Math.round(caughtUp - listening)} ms ` +
        `after it listened (${Math.round(caughtUp - spawned)} ms after spawn): ${Math.round(target / seconds)} entries/s ` +
        `(${Math.round(target / ((caughtUp - spawned) / 1000))} entries/s from spawn; ${batches} journal batches ` +
        `applied by then, ${Math.round((seconds * 1000) / batches)} ms per batch)`,
    );
    // The load goes on a little while the mirror follows live again.
    await sleep(AFTER_RESTART_MS);
    await loading.stop();
    expect(loading.receipted).toBeGreaterThan(500);

    // The load has stopped: the mirror serves the leader's latest checkpoint, byte for byte.
    const final = await mirrorCaughtUp(30_000);
    seen.add(final);
    const leaderCheckpoints = [...seen].map(checkpointFrom).sort((a, b) => a.size - b.size);

    const auditStarted = performance.now();
    // Inclusion proofs from the mirror, verified against the leader's checkpoints.
    const sample = Array.from({ length: 60 }, () => receipted[Math.floor(Math.random() * receipted.length)]!);
    for (const r of sample) {
      const covering = leaderCheckpoints.filter((c) => c.size > r.index);
      const c = covering[Math.floor(Math.random() * covering.length)]!;
      const res = await get(`${mirror.url}/proof/inclusion?index=${r.index}&size=${c.size}`);
      expect(res.status).toBe(200);
      const { proof } = (await res.json()) as { proof: string[] };
      verifyInclusion(fromHex(r.leafHash), r.index, c.size, c.root, proof.map(fromBase64));
    }
    // Consistency proofs between leader checkpoints, from the mirror.
    const nonEmpty = leaderCheckpoints.filter((c) => c.size > 0);
    const pairs: Array<[Checkpoint, Checkpoint]> = [[nonEmpty[0]!, nonEmpty.at(-1)!]];
    for (let i = 0; i < 20; i++) {
      const a = nonEmpty[Math.floor(Math.random() * nonEmpty.length)]!;
      const b = nonEmpty[Math.floor(Math.random() * nonEmpty.length)]!;
      pairs.push(a.size <= b.size ? [a, b] : [b, a]);
    }
    for (const [a, b] of pairs) {
      const res = await get(`${mirror.url}/proof/consistency?from=${a.size}&to=${b.size}`);
      expect(res.status).toBe(200);
      const { proof } = (await res.json()) as { proof: string[] };
      verifyConsistency(a.size, b.size, a.root, b.root, proof.map(fromBase64));
    }
    const { note } = await checkLog(mirror, receipted, seen);
    expect(note).toBe(final);
    console.log(
      `audit of the mirror (${sample.length} inclusion and ${pairs.length} consistency proofs, checkLog with ` +
        `${receipted.length} receipts and ${seen.size} checkpoints): ${Math.round(performance.now() - auditStarted)} ms`,
    );
    const health = (await (await get(`${mirror.url}/healthz`)).json()) as { role: string; ok: boolean };
    expect(health).toMatchObject({ role: 'mirror', ok: true });
  }, 120_000);

  it('with a corrupt stored edge tile, refuses to serve the root it cannot prove; an empty data dir is the remedy', async () => {
    const { note, checkpoint } = await quietLog(1000);
    const { size } = checkpoint;
    const db = join(mirrorData, 'db');
    const level1: Tile = {
      level: 1,
      index: Math.floor(size / TILE_WIDTH ** 2),
      width: Math.floor(size / TILE_WIDTH) % TILE_WIDTH,
    };
    const level0: Tile = { level: 0, index: Math.floor(size / TILE_WIDTH), width: size % TILE_WIDTH };
    const outcomes: string[] = [];
    /** Restarts the mirror over the corrupt store: it must not serve `note`. */
    const refuses = async (what: string) => {
      const started = await startMirror(mirrorArgs()).catch((e: unknown) => e);
      if (started instanceof StartError) {
        expect(started.code, started.out).not.toBe(0);
        expect(started.out).toMatch(/corrupt|stored tiles|partial tiles disagree/i);
        const message = started.out.trim().split('\n').at(-1);
        outcomes.push(`${what}: refused to start (exit ${started.code}): ${message}`);
        return;
      }
      if (!(started && typeof started === 'object' && 'url' in started)) throw started;
      mirror = started as ServerProcess;
      const cp = await get(`${mirror.url}/checkpoint`);
      const health = await get(`${mirror.url}/healthz`);
      const body = await health.text();
      outcomes.push(`${what}: started; /checkpoint ${cp.status}, /healthz ${health.status} ${body}`);
      expect(cp.status).toBe(503);
      expect(health.status).toBe(503);
      await stopMirror();
    };

    await stopMirror();
    // (1) the rightmost level-1 tile: its second hash.
    await flipTileByte(db, level1, 32 + 3);
    await refuses(`tile/1/${level1.index} (width ${level1.width}) corrupt`);
    // Control: restored, the same data dir serves the same checkpoint again.
    await flipTileByte(db, level1, 32 + 3);
    mirror = await startMirror(mirrorArgs());
    expect(await mirrorCaughtUp()).toBe(note);
    await stopMirror();
    // (2) the partial level-0 tile: its last hash.
    await flipTileByte(db, level0, (level0.width - 1) * 32 + 9);
    await refuses(`tile/0/${level0.index} (partial, width ${level0.width}) corrupt`);
    console.log(`corrupt edge tiles at size ${size}:\n  ${outcomes.join('\n  ')}`);

    expect(await rebuildMirror()).toBe(note);
  }, 90_000);

  it('never serves a corrupt full level-0 tile off the root path, nor proofs from it; an empty data dir is the remedy', async () => {
    const { checkpoint } = await quietLog(1000);
    const { size, root } = checkpoint;
    const tile: Tile = { level: 0, index: 1, width: TILE_WIDTH };
    const path = tilePath(tile); // tile/0/001
    const leaderRes = await get(`${leader.url}/${path}`);
    const leaderTile = new Uint8Array(await leaderRes.arrayBuffer());
    expect(leaderRes.status, new TextDecoder().decode(leaderTile)).toBe(200);
    expect(leaderTile.length).toBe(TILE_WIDTH * 32);
    const leafAt = (i: number) => leaderTile.subarray((i % TILE_WIDTH) * 32, (i % TILE_WIDTH) * 32 + 32);
    await stopMirror();
    // The leaf hash of entry 256 + 5: the first hash of entry 260's inclusion proof, and under entry 300's.
    await flipTileByte(join(mirrorData, 'db'), tile, 5 * 32 + 1);
    const report: string[] = [];
    const started = await startMirror(mirrorArgs()).catch((e: unknown) => e);
    if (started instanceof StartError) {
      report.push(`refused to start (exit ${started.code}): ${started.out.trim().split('\n').at(-1)}`);
    } else {
      if (!(started && typeof started === 'object' && 'url' in started)) throw started;
      mirror = started as ServerProcess;
      const health = await get(`${mirror.url}/healthz`);
      const cp = await get(`${mirror.url}/checkpoint`);
      report.push(`started: /healthz ${health.status}, /checkpoint ${cp.status}`);

      const res = await get(`${mirror.url}/${path}`);
      const body = new Uint8Array(await res.arrayBuffer());
      const same = Buffer.from(body).equals(Buffer.from(leaderTile));
      report.push(
        `GET /${path}: ${res.status}` +
          (res.status === 200
            ? same
              ? ", the leader's bytes"
              : ", NOT the leader's bytes (corrupt data served)"
            : ` ${new TextDecoder().decode(body)}`),
      );
      if (res.status === 200) expect.soft(same, `GET /${path} answered 200 with corrupt bytes`).toBe(true);
      else expect.soft(res.status).toBe(500);

      for (const index of [TILE_WIDTH + 4, TILE_WIDTH + 44]) {
        const res = await get(`${mirror.url}/proof/inclusion?index=${index}&size=${size}`);
        const text = await res.text();
        if (res.status === 200) {
          const { proof } = JSON.parse(text) as { proof: string[] };
          let verifies = true;
          try {
            verifyInclusion(leafAt(index), index, size, root, proof.map(fromBase64));
          } catch {
            verifies = false;
          }
          report.push(
            `GET /proof/inclusion?index=${index}&size=${size}: 200, ` +
              (verifies ? "verifies against the leader's root" : "does NOT verify against the leader's root"),
          );
          expect.soft(verifies, `inclusion proof for ${index} served from a corrupt tile`).toBe(true);
        } else {
          report.push(`GET /proof/inclusion?index=${index}&size=${size}: ${res.status} ${text}`);
          expect.soft(res.status).toBe(500);
        }
      }

      const leaf = leafAt(TILE_WIDTH + 4);
      const receipt = await get(`${mirror.url}/receipt/${toHex(leaf)}`);
      const text = await receipt.text();
      if (receipt.status === 200) {
        let verifies = true;
        try {
          verifyReceipt(text, { leafHash: leaf }, verifier);
        } catch {
          verifies = false;
        }
        report.push(
          `GET /receipt (entry ${TILE_WIDTH + 4}): 200, ${verifies ? 'verifies' : 'does NOT verify'}`,
        );
        expect.soft(verifies).toBe(true);
      } else {
        report.push(`GET /receipt (entry ${TILE_WIDTH + 4}): ${receipt.status} ${text}`);
        expect.soft(receipt.status).toBe(500);
      }
    }
    console.log(`corrupt full ${path} at size ${size}:\n  ${report.join('\n  ')}`);

    await rebuildMirror();
    const res = await get(`${mirror!.url}/${path}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(leaderTile))).toBe(true);
    const proofRes = await get(`${mirror!.url}/proof/inclusion?index=${TILE_WIDTH + 4}&size=${size}`);
    const { proof } = (await proofRes.json()) as { proof: string[] };
    verifyInclusion(leafAt(TILE_WIDTH + 4), TILE_WIDTH + 4, size, root, proof.map(fromBase64));
  }, 90_000);
});
