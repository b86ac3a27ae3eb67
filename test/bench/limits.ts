/**
 * The machine's limits, measured in the same run as the benchmarks that
 * compare against them: LevelDB synced batches, SHA-256, Ed25519 verify on
 * all cores.
 */
import { Level } from 'level';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { tempDir } from '../helpers/log.js';

/** Synced LevelDB write batches (one small put each) per second, for `ms` milliseconds. */
export async function levelSyncedBatchRate(ms: number): Promise<number> {
  const { dir, cleanup } = await tempDir('urna-limit-');
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  await db.open();
  try {
    const value = new Uint8Array(64);
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      await db.batch([{ type: 'put', key: `k${n}`, value }], { sync: true });
      n++;
    }
    return n / ((performance.now() - start) / 1000);
  } finally {
    await db.close();
    await cleanup();
  }
}

/**
 * Native Ed25519 verifications per second on all cores: one worker thread
 * per core, each verifying the same signature for `ms` milliseconds.
 */
export async function ed25519VerifyRateAllCores(ms: number): Promise<{ perSecond: number; cores: number }> {
  const cores = availableParallelism();
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { generateKeyPairSync, sign, verify } = require('node:crypto');
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const msg = Buffer.alloc(200, 7);
    const sig = sign(null, msg, privateKey);
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < workerData.ms) {
      for (let i = 0; i < 100; i++) verify(null, msg, publicKey, sig);
      n += 100;
    }
    parentPort.postMessage(n / ((performance.now() - start) / 1000));
  `;
  return { perSecond: await rateOnCores(code, ms, cores), cores };
}

/**
 * The summed rate of `code` (a CommonJS worker body that posts its own
 * operations per second, given `workerData.ms`) run in `cores` worker
 * threads at once.
 */
async function rateOnCores(code: string, ms: number, cores: number): Promise<number> {
  const rates = await Promise.all(
    Array.from(
      { length: cores },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { ms } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

/**
 * Variable-time ristretto255 scalar multiplications (@noble/curves, the
 * verifier's) per second of an arbitrary point by a 253-bit scalar, on
 * `cores` worker threads, for `ms` milliseconds.
 */
export function ristrettoMultRate(ms: number, cores: number): Promise<number> {
  return rateOnCores(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { ristretto255 } = require('@noble/curves/ed25519.js');
    const P = ristretto255.Point;
    let x = P.BASE, n = 0;
    const start = performance.now();
    while (performance.now() - start < workerData.ms) {
      x = x.multiplyUnsafe(0x0edcba9876543210fedcba9876543210fedcba9876543210fedcba987654321n);
      n++;
    }
    parentPort.postMessage(n / ((performance.now() - start) / 1000));
  `,
    ms,
    cores,
  );
}

/** Hashes of 64-byte inputs per second by `hash` (after a warm-up), for `ms` milliseconds. */
export function sha256Rate(hash: (b: Uint8Array) => unknown, ms: number): number {
  const input = new Uint8Array(64).fill(3);
  for (let i = 0; i < 20_000; i++) hash(input); // warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 1000; i++) hash(input);
    n += 1000;
  }
  return n / ((performance.now() - start) / 1000);
}
