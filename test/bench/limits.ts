/**
 * The machine's limits, measured in the same run as the benchmarks that
 * compare against them: LevelDB synced batches, SHA-256, Ed25519 verify on
 * all cores.
 */
import { ClassicLevel } from 'classic-level';
import { tempDir } from '../helpers/log.js';

/** Synced LevelDB write batches (one small put each) per second, for `ms` milliseconds. */
export async function levelSyncedBatchRate(ms: number): Promise<number> {
  const { dir, cleanup } = await tempDir('urna-limit-');
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
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
