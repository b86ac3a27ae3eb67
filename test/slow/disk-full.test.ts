/**
 * A full disk, for real: `urna serve` with its data dir (and its key and
 * signer state, as `npm start` lays them out) on a small tmpfs, loaded with
 * large entries until the file system is full — in LevelDB's write-ahead
 * log, its compactions, and the signer state's writes. Writes are then
 * answered 503 with Retry-After and /healthz says why, the process stays
 * up, and once space is freed writes resume by themselves, without a
 * restart, with nothing receipted lost. With a free-space floor, writes are
 * refused before LevelDB ever meets the full disk.
 *
 * Mounting a tmpfs needs root (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { checkLog, keepReceipt, post, type Receipted } from '../helpers/audit.js';
import { tempDir } from '../helpers/log.js';
import { startServer, type ServerProcess } from '../helpers/process.js';

let dir: string;
let cleanup: () => Promise<void>;
let mounts = 0;
const mounted: string[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-disk-full-'));
});
afterAll(async () => {
  for (const m of mounted) execFileSync('umount', ['-l', m]);
  await cleanup?.();
});

/** A fresh tmpfs of `mb` MiB, with `ballastMb` MiB of it taken by a file that can be deleted to free space. */
async function smallDisk(mb: number, ballastMb: number) {
  const mount = join(dir, `tmpfs-${++mounts}`);
  await mkdir(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', mount]);
  mounted.push(mount);
  const ballast = join(mount, 'ballast');
  await writeFile(ballast, Buffer.alloc(ballastMb * 1024 * 1024, 1));
  return { data: join(mount, 'data'), free: () => rm(ballast) };
}

interface Answers {
  receipted: Receipted[];
  seen: Set<string>;
  refusals: Array<{ status: number; code?: string; retryAfter: string | null }>;
  /** /healthz as answered right after each refusal. */
  healthAtRefusals: Array<Awaited<ReturnType<typeof health>>>;
}

/** Posts 4 KiB entries of random bytes from 8 clients until `stop()` says so or `ms` pass. */
async function fill(server: ServerProcess, tag: string, answers: Answers, stop: () => boolean, ms: number) {
  const deadline = Date.now() + ms;
  let n = 0;
  const client = async (c: number) => {
    while (!stop() && Date.now() < deadline) {
      // Random bytes: LevelDB compresses its blocks, so entries must not compress to fill a disk.
      const entry = utf8(`${tag} ${c} ${n++} ${randomBytes(3000).toString('base64')}`);
      const res = await fetch(`${server.url}/add`, {
        method: 'POST',
        body: Buffer.from(entry),
        headers: { 'content-type': 'application/octet-stream' },
      });
      const body = (await res.json()) as { error?: { code: string } } & Parameters<
        typeof keepReceipt
      >[0]['body'];
      if (!keepReceipt({ status: res.status, body }, answers.receipted, answers.seen)) {
        answers.refusals.push({
          status: res.status,
          ...(body.error ? { code: body.error.code } : {}),
          retryAfter: res.headers.get('retry-after'),
        });
        answers.healthAtRefusals.push(await health(server));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
}

async function health(server: ServerProcess) {
  const res = await fetch(`${server.url}/healthz`);
  return { status: res.status, body: (await res.json()) as { ok: boolean; error?: string } };
}

async function recovers(server: ServerProcess, answers: Answers, tag: string): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) {
    const r = await post(server, utf8(`${tag} probe ${i}`));
    if (keepReceipt(r, answers.receipted, answers.seen)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`writes did not resume within 30 s:\n${server.output().slice(-3000)}`);
}

/** `urna serve` of opaque entries with its data dir (key and signer state included) on `disk`, and this free-space floor. */
function serveOn(disk: { data: string }, minFreeMb: number): Promise<ServerProcess> {
  return startServer([
    '--data',
    disk.data,
    '--rules',
    'none',
    '--batch-ms',
    '10',
    '--min-free-mb',
    String(minFreeMb),
  ]);
}

describe('a full disk', () => {
  it('without a floor: LevelDB meets it; 503 with Retry-After, recovery without restart once space is freed', async () => {
    const disk = await smallDisk(40, 12);
    const server = await serveOn(disk, 0);
    try {
      const answers: Answers = { receipted: [], seen: new Set(), refusals: [], healthAtRefusals: [] };
      await fill(server, 'fill', answers, () => answers.refusals.length >= 40, 90_000);
      expect(answers.refusals.length, server.output().slice(-3000)).toBeGreaterThanOrEqual(40);
      for (const r of answers.refusals) {
        expect(r.status).toBe(503);
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect(answers.refusals.some((r) => r.code === 'storage_unavailable')).toBe(true);
      const sick = await health(server);
      expect(sick.status).toBe(503);
      expect(sick.body.error).toMatch(/storage unavailable|space/);
      expect(server.proc.exitCode).toBeNull();
      await disk.free();
      const ms = await recovers(server, answers, 'after');
      expect((await health(server)).status).toBe(200);
      await fill(server, 'more', answers, () => false, 1000);
      await checkLog(server, answers.receipted, answers.seen);
      console.info(
        `disk full without a floor: ${answers.receipted.length} receipts, writes resumed ${ms} ms after space was freed`,
      );
      expect(server.output()).toMatch(/storage recovered/);
    } finally {
      await server.stop();
    }
  });

  it('with a floor: writes are refused (503, Retry-After) before the disk is full, and resume when space is freed', async () => {
    // LevelDB's compactions need room beyond the floor: a few table files of each level they merge.
    const disk = await smallDisk(96, 16);
    const server = await serveOn(disk, 40);
    try {
      const answers: Answers = { receipted: [], seen: new Set(), refusals: [], healthAtRefusals: [] };
      await fill(server, 'fill', answers, () => answers.refusals.length >= 20, 90_000);
      expect(answers.refusals.length).toBeGreaterThanOrEqual(20);
      expect(answers.refusals.every((r) => r.status === 503 && Number(r.retryAfter) >= 1)).toBe(true);
      // Compactions free space again now and then, so the floor may be crossed back between a
      // refusal and the health check after it: health must say why at some refusal, and never
      // give another reason.
      const sick = answers.healthAtRefusals.filter((h) => h.status !== 200);
      expect(sick.length, JSON.stringify(answers.healthAtRefusals)).toBeGreaterThan(0);
      for (const h of sick) {
        expect(h.status).toBe(503);
        expect(h.body.error).toMatch(/below the floor/);
      }
      expect(answers.refusals.every((r) => r.code === 'storage_full')).toBe(true);
      // The floor kept LevelDB away from the full disk: no storage fault was met.
      expect(server.output()).not.toMatch(/storage unavailable:/);
      await disk.free();
      await recovers(server, answers, 'after');
      expect((await health(server)).status).toBe(200);
      await checkLog(server, answers.receipted, answers.seen);
    } finally {
      await server.stop();
    }
  });
});
