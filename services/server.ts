/**
 * `urna serve`: process concerns of the single-node log — configuration,
 * the data directory and key, LevelDB, the sequencer, listening, and a
 * graceful shutdown on SIGINT/SIGTERM.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setEd25519Backend } from '../ledger/ed25519.js';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '../ledger/note.js';
import { buildApp } from './api/app.js';
import { nativeEd25519 } from './crypto/native-ed25519.js';
import { Registry } from './metrics.js';
import { Sequencer, type FaultPoint } from './sequencer/sequencer.js';
import { LevelStore } from './storage/level.js';

export interface ServeConfig {
  dataDir: string;
  host: string;
  port: number;
  /** Signer key file; default `<dataDir>/log.key`, generated on first start. */
  keyFile?: string;
  /** Key name (the log's origin) used when a key is generated. */
  origin: string;
  batchPeriodMs: number;
  maxBatch: number;
  maxPending: number;
  /** Test-only: SIGKILL this process at these fault points with this probability. */
  crashAt?: FaultPoint[];
  crashProbability?: number;
  log?: boolean;
}

/** Reads the signer key, generating it (mode 0600) on first start when it is the data dir's default key. */
async function loadOrCreateKey(config: ServeConfig): Promise<{ skey: string; created: boolean }> {
  const file = config.keyFile ?? join(config.dataDir, 'log.key');
  try {
    return { skey: (await readFile(file, 'utf8')).trim(), created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || config.keyFile) throw e;
  }
  const { signerKey } = generateSignerKey(config.origin);
  await writeFile(file, signerKey + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { skey: signerKey, created: true };
}

/** Starts the log; resolves once it listens. Returns a close function. */
export async function serve(
  config: ServeConfig,
): Promise<{ url: string; verifierKey: string; close(): Promise<void> }> {
  setEd25519Backend(nativeEd25519);
  await mkdir(config.dataDir, { recursive: true });
  const { skey, created } = await loadOrCreateKey(config);
  const signer = parseSignerKey(skey);
  const verifier = parseVerifierKey(signer.verifierKey);
  const store = await LevelStore.open(join(config.dataDir, 'db'));
  const metrics = new Registry();
  const crashAt = new Set(config.crashAt ?? []);
  const sequencer = await Sequencer.open({
    store,
    signer,
    verifier,
    metrics,
    batchPeriodMs: config.batchPeriodMs,
    maxBatch: config.maxBatch,
    maxPending: config.maxPending,
    fault: (point) => {
      if (crashAt.has(point) && Math.random() < (config.crashProbability ?? 1))
        process.kill(process.pid, 'SIGKILL');
    },
  });
  const app = await buildApp({ sequencer, store, metrics, logger: config.log ? { level: 'info' } : false });
  sequencer.start();
  const address = await app.listen({ host: config.host, port: config.port });
  if (created) console.error(`generated log key ${config.keyFile ?? join(config.dataDir, 'log.key')}`);
  return {
    url: address,
    verifierKey: signer.verifierKey,
    async close() {
      await app.close();
      await sequencer.stop();
      await store.close();
    },
  };
}
