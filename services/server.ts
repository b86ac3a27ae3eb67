/**
 * `urna serve`: process concerns of the single-node log — configuration,
 * the data directory and key, LevelDB, the sequencer, listening, and a
 * graceful shutdown on SIGINT/SIGTERM.
 */
import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toBase64 } from '../ledger/bytes.js';
import { setEd25519Backend } from '../ledger/ed25519.js';
import { setSha256Backend } from '../ledger/hash.js';
import { nativeSha256 } from './crypto/native-sha256.js';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '../ledger/note.js';
import { buildApp } from './api/app.js';
import { nativeEd25519 } from './crypto/native-ed25519.js';
import { Registry } from './metrics.js';
import { RecordPool } from './crypto/record-pool.js';
import { ElectionAdmission } from './election/admission.js';
import { acceptAll, Sequencer, type FaultPoint } from './sequencer/sequencer.js';
import { TileCache } from './sequencer/tile-reader.js';
import { LevelStore } from './storage/level.js';
import { connect, type NatsConnection } from 'nats';
import { encodedBatchBytes, Journal } from './journal/journal.js';
import { publishCheckpoint } from './journal/subjects.js';
import type { Replicator } from './sequencer/replicator.js';

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
  /**
   * `election`: entries must be election records admitted by the rules
   * (ledger/rules.ts); `none`: a log of opaque entries.
   */
  rules: 'election' | 'none';
  /**
   * Verifier keys (note format) of the authorities trusted to define
   * elections. When empty in `election` mode, a key is generated in the data
   * dir (`authority.key`) on first start and trusted: for development and
   * demos; in production pass the authorities' verifier keys and keep their
   * signer keys offline.
   */
  authorities: string[];
  /**
   * NATS server URL(s), comma-separated: replicate through the JetStream
   * journal (append before commit, catch up on start). Absent: LevelDB only.
   */
  nats?: string;
  /** Journal stream replicas (1 or 3). Default 1. */
  natsReplicas?: 1 | 3;
  /** Test-only: SIGKILL this process at these fault points with this probability. */
  crashAt?: FaultPoint[];
  crashProbability?: number;
  log?: boolean;
}

/**
 * Reads a signer key file; when `generate` names a key and the file does not
 * exist, generates it first (mode 0600). Returns whether it was created.
 */
async function loadOrCreateKey(
  file: string,
  generate: string | null,
): Promise<{ skey: string; created: boolean }> {
  try {
    return { skey: (await readFile(file, 'utf8')).trim(), created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || generate === null) throw e;
  }
  const { signerKey } = generateSignerKey(generate);
  await writeFile(file, signerKey + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { skey: signerKey, created: true };
}

/** The trusted authorities as base64 public keys (the form records carry). */
async function authorityKeys(config: ServeConfig): Promise<string[]> {
  if (config.rules === 'none') return [];
  if (config.authorities.length)
    return config.authorities.map((v) => toBase64(parseVerifierKey(v).publicKey));
  const file = join(config.dataDir, 'authority.key');
  const { skey, created } = await loadOrCreateKey(file, `${config.origin}/authority`);
  if (created) console.error(`urna: generated election authority key ${file}`);
  return [toBase64(parseSignerKey(skey).publicKey)];
}

/** Starts the log; resolves once it listens. Returns a close function. */
export async function serve(
  config: ServeConfig,
): Promise<{ url: string; verifierKey: string; close(): Promise<void> }> {
  setEd25519Backend(nativeEd25519);
  setSha256Backend(nativeSha256);
  await mkdir(config.dataDir, { recursive: true });
  const keyFile = config.keyFile ?? join(config.dataDir, 'log.key');
  const { skey, created } = await loadOrCreateKey(keyFile, config.keyFile ? null : config.origin);
  const signer = parseSignerKey(skey);
  const verifier = parseVerifierKey(signer.verifierKey);
  const store = await LevelStore.open(join(config.dataDir, 'db'));
  const metrics = new Registry();
  const tiles = new TileCache(store);
  const authorities = await authorityKeys(config);
  const pool = config.rules === 'election' ? new RecordPool() : null;
  const admission = pool ? new ElectionAdmission({ store, tiles, pool, authorities }) : acceptAll;
  const crashAt = new Set(config.crashAt ?? []);
  let nc: NatsConnection | null = null;
  let journal: Journal | null = null;
  let replicator: Replicator | undefined;
  if (config.nats) {
    nc = await connect({ servers: config.nats.split(','), name: `urna serve ${signer.name}` });
    journal = await Journal.open(nc, signer.name, { replicas: config.natsReplicas ?? 1 });
    if (created && (await journal.lastSequence()) > 0) {
      // The journal holds this origin's log, signed by a key this data dir
      // no longer has: rebuilding under a new key would be another log with
      // the same name. Refuse; the log key must survive the data dir.
      await unlink(keyFile);
      await journal.close();
      await nc.close();
      await pool?.close();
      await store.close();
      throw new Error(
        `the journal of ${signer.name} is not empty but no log key was found in ${config.dataDir}: ` +
          'pass the log key with --key (keep it outside the data dir to rebuild from the journal)',
      );
    }
    replicator = journalReplicator(nc, journal);
  }
  const sequencer = await Sequencer.open({
    store,
    signer,
    verifier,
    metrics,
    tiles,
    admission,
    batchPeriodMs: config.batchPeriodMs,
    maxBatch: config.maxBatch,
    maxPending: config.maxPending,
    ...(replicator ? { replicator } : {}),
    fault: (point) => {
      if (crashAt.has(point) && Math.random() < (config.crashProbability ?? 1))
        process.kill(process.pid, 'SIGKILL');
    },
  });
  const app = await buildApp({
    node: sequencer,
    store,
    metrics,
    logger: config.log ? { level: 'info' } : false,
  });
  sequencer.start();
  const address = await app.listen({ host: config.host, port: config.port });
  if (created) console.error(`urna: generated log key ${keyFile}`);
  return {
    url: address,
    verifierKey: signer.verifierKey,
    async close() {
      await app.close();
      await sequencer.stop();
      await pool?.close();
      await journal?.close();
      await nc?.close();
      await store.close();
    },
  };
}

/** The sequencer's Replicator over the JetStream journal of its log. */
function journalReplicator(nc: NatsConnection, journal: Journal): Replicator {
  return {
    maxBatchBytes: journal.maxBatchBytes,
    bytesOf: encodedBatchBytes,
    append: (batch, expectedLastSeq) => journal.append(batch, expectedLastSeq),
    readAfter: (afterSeq, firstIndex) =>
      journal.readUntilEnd(afterSeq + 1, afterSeq === 0 ? {} : { firstIndex }),
    publishCheckpoint: (note) => publishCheckpoint(nc, journal.origin, note),
  };
}
