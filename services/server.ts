/**
 * `urna serve`: process concerns of the single-node log — configuration,
 * the data directory and key, LevelDB, the sequencer, listening, and a
 * graceful shutdown on SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
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
import { Journal } from './journal/journal.js';
import { CheckpointFeed } from './journal/checkpoints.js';
import { Lease } from './journal/lease.js';
import type { LogNode } from './api/log-node.js';
import { Mirror } from './mirror/mirror.js';
import { ReplicatedNode } from './replica/node.js';
import type { LogStore } from './storage/store.js';

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
  /**
   * This sequencer's id in the lease (with --nats): unique per node, and
   * stable across its restarts so a restarted leader takes its lease back at
   * once. Default: the host name and a digest of the data dir's path.
   */
  nodeId?: string;
  /** The URL standbys point submitters to while this node leads. Default: the listen address. */
  advertise?: string;
  /** Lease TTL in milliseconds (with --nats). Default 3000: a standby takes over about this long after a leader dies. */
  leaseMs?: number;
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
async function authorityKeys(
  config: Pick<ServeConfig, 'rules' | 'authorities' | 'dataDir' | 'origin'>,
): Promise<string[]> {
  if (config.rules === 'none') return [];
  if (config.authorities.length)
    return config.authorities.map((v) => toBase64(parseVerifierKey(v).publicKey));
  const file = join(config.dataDir, 'authority.key');
  const { skey, created } = await loadOrCreateKey(file, `${config.origin}/authority`);
  if (created) console.error(`urna: generated election authority key ${file}`);
  return [toBase64(parseSignerKey(skey).publicKey)];
}

/**
 * NATS connection settings of every node: reconnect for ever (a node outlives
 * an outage of the whole NATS cluster: a leader steps down when its appends
 * go unanswered, and everyone resumes when NATS is back), every 500 ms.
 */
const NATS_OPTIONS = { maxReconnectAttempts: -1, reconnectTimeWait: 500 } as const;

type Replication = Awaited<ReturnType<typeof openReplication>>;

/**
 * Opens the replication of `origin` and runs `start` with it. The returned
 * close stops what `start` started, then NATS, then the local store; if
 * anything fails on the way, what was opened (and `local`) is closed.
 */
async function runReplicated(
  local: { close(): Promise<void> },
  opts: { nats: string; origin: string; replicas: 1 | 3; who: string },
  start: (replication: Replication) => Promise<{ url: string; stop(): Promise<void> }>,
): Promise<{ url: string; close(): Promise<void> }> {
  let replication: Replication | null = null;
  try {
    replication = await openReplication(opts.nats, opts.origin, opts.replicas, opts.who);
    const opened = replication;
    const { url, stop } = await start(opened);
    return {
      url,
      async close() {
        await stop();
        await opened.close();
        await local.close();
      },
    };
  } catch (e) {
    await replication?.close();
    await local.close();
    throw e;
  }
}

/** A running node: its URL, the log's verifier key, and how to stop it. */
export interface RunningNode {
  url: string;
  verifierKey: string;
  close(): Promise<void>;
}

/** Process-wide: the native crypto backends (ledger/ stays portable; Node is faster). */
function useNativeCrypto(): void {
  setEd25519Backend(nativeEd25519);
  setSha256Backend(nativeSha256);
}

/** What every node of a log opens in its data dir: the store, its tile cache, the rules, metrics. */
async function openLocal(dataDir: string, authorities: string[], rules: 'election' | 'none') {
  const store = await LevelStore.open(join(dataDir, 'db'));
  const metrics = new Registry();
  const tiles = new TileCache(store);
  const pool = rules === 'election' ? new RecordPool() : null;
  const admission = pool ? new ElectionAdmission({ store, tiles, pool, authorities }) : acceptAll;
  const close = async () => {
    await pool?.close();
    await store.close();
  };
  return { store, metrics, tiles, admission, close };
}

/**
 * Connects to NATS and binds to the log's journal and checkpoint feed
 * (creating their streams if absent). Closes what it opened if a step fails.
 */
async function openReplication(nats: string, origin: string, replicas: 1 | 3, who: string) {
  const nc = await connect({ ...NATS_OPTIONS, servers: nats.split(','), name: `urna ${who} ${origin}` });
  try {
    const journal = await Journal.open(nc, origin, { replicas });
    const feed = await CheckpointFeed.open(nc, origin, { replicas });
    const close = async () => {
      await journal.close();
      await nc.close();
    };
    return { nc, journal, feed, close };
  } catch (e) {
    await nc.close();
    throw e;
  }
}

/** Serves `node` over HTTP; resolves with the listen URL and a close for the server alone. */
async function listen(
  node: LogNode,
  store: LogStore,
  metrics: Registry,
  config: { host: string; port: number; log?: boolean },
) {
  const app = await buildApp({ node, store, metrics, logger: config.log ? { level: 'info' } : false });
  const url = await app.listen({ host: config.host, port: config.port });
  return { app, url };
}

/** The default lease id of a node: its host and a digest of its data dir (unique per node, stable across restarts). */
function defaultNodeId(dataDir: string): string {
  const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8);
  return `${hostname()}-${digest}`;
}

/** Starts the log; resolves once it listens. Returns a close function. */
export async function serve(config: ServeConfig): Promise<RunningNode> {
  useNativeCrypto();
  await mkdir(config.dataDir, { recursive: true });
  const keyFile = config.keyFile ?? join(config.dataDir, 'log.key');
  const { skey, created } = await loadOrCreateKey(keyFile, config.keyFile ? null : config.origin);
  const signer = parseSignerKey(skey);
  const verifier = parseVerifierKey(signer.verifierKey);
  const authorities = await authorityKeys(config);
  const local = await openLocal(config.dataDir, authorities, config.rules);
  const { store, metrics, tiles, admission } = local;
  const crashAt = new Set(config.crashAt ?? []);
  const sequencing = {
    batchPeriodMs: config.batchPeriodMs,
    maxBatch: config.maxBatch,
    maxPending: config.maxPending,
    fault: (point: FaultPoint) => {
      if (crashAt.has(point) && Math.random() < (config.crashProbability ?? 1))
        process.kill(process.pid, 'SIGKILL');
    },
  };
  if (!config.nats) {
    const sequencer = await Sequencer.open({
      ...sequencing,
      store,
      signer,
      verifier,
      metrics,
      tiles,
      admission,
    });
    const { app, url } = await listen(sequencer, store, metrics, config);
    sequencer.start();
    if (created) console.error(`urna: generated log key ${keyFile}`);
    return {
      url,
      verifierKey: signer.verifierKey,
      async close() {
        await app.close();
        await sequencer.stop();
        await local.close();
      },
    };
  }
  const replicas = config.natsReplicas ?? 1;
  const running = await runReplicated(
    local,
    { nats: config.nats, origin: signer.name, replicas, who: 'serve' },
    async ({ nc, journal, feed }) => {
      if (created && (await journal.lastSequence()) > 0) {
        // The journal holds this origin's log, signed by a key this data dir
        // no longer has: rebuilding under a new key would be another log with
        // the same name. Refuse; the log key must survive the data dir.
        await unlink(keyFile);
        throw new Error(
          `the journal of ${signer.name} is not empty but no log key was found in ${config.dataDir}: ` +
            'pass the log key with --key (keep it outside the data dir to rebuild from the journal)',
        );
      }
      const lease = await Lease.open(nc, signer.name, config.nodeId ?? defaultNodeId(config.dataDir), {
        ttlMs: config.leaseMs ?? 3000,
        replicas,
      });
      const node = await ReplicatedNode.open({
        nc,
        journal,
        feed,
        lease,
        store,
        tiles,
        admission,
        signer,
        verifier,
        metrics,
        sequencer: sequencing,
        ...(config.log ? { log: (m: string) => console.error(`urna: ${m}`) } : {}),
      });
      const { app, url } = await listen(node, store, metrics, config);
      lease.url = config.advertise ?? url;
      node.contend();
      // Ready once the first contention settled: leading (caught up and signed), or a standby that knows the leader.
      await node.settled;
      return {
        url,
        async stop() {
          await app.close();
          await node.close();
        },
      };
    },
  );
  if (created) console.error(`urna: generated log key ${keyFile}`);
  return { ...running, verifierKey: signer.verifierKey };
}

export interface MirrorConfig {
  dataDir: string;
  host: string;
  port: number;
  /** The log's verifier key (note format); its name is the origin. */
  logKey: string;
  /** NATS server URL(s), comma-separated. */
  nats: string;
  natsReplicas?: 1 | 3;
  /** As for `serve`: the rules the log runs, and its trusted authorities (required with `election`). */
  rules: 'election' | 'none';
  authorities: string[];
  log?: boolean;
}

/** Starts a mirror of the log named by `logKey`; resolves once it listens. */
export async function mirror(config: MirrorConfig): Promise<RunningNode> {
  useNativeCrypto();
  const verifier = parseVerifierKey(config.logKey);
  if (config.rules === 'election' && config.authorities.length === 0)
    throw new RangeError(
      'a mirror of an election log needs the authority keys the log trusts (--authority VKEY, as the sequencer has), ' +
        'or --rules none to mirror the entries without the election projections',
    );
  await mkdir(config.dataDir, { recursive: true });
  const authorities = config.authorities.map((v) => toBase64(parseVerifierKey(v).publicKey));
  const local = await openLocal(config.dataDir, authorities, config.rules);
  const { store, metrics, tiles, admission } = local;
  const running = await runReplicated(
    local,
    { nats: config.nats, origin: verifier.name, replicas: config.natsReplicas ?? 1, who: 'mirror' },
    async ({ nc, journal, feed }) => {
      const node = await Mirror.open({
        store,
        tiles,
        admission,
        verifier,
        follow: (fromSeq, o) => journal.follow(fromSeq, { ...o, pollMs: 250 }),
        checkpoints: feed,
        leader: leaderHint(nc, verifier.name),
        metrics,
      });
      const { app, url } = await listen(node, store, metrics, config);
      node.start();
      return {
        url,
        async stop() {
          await app.close();
          await node.stop();
        },
      };
    },
  );
  return { ...running, verifierKey: config.logKey };
}

/** The leader's URL from the lease, refreshed in the background (for mirrors' not_leader answers). */
function leaderHint(nc: NatsConnection, origin: string): () => string | null {
  let url: string | null = null;
  const refresh = () =>
    Lease.peek(nc, origin).then(
      (holder) => (url = holder?.url ?? null),
      () => {},
    );
  void refresh();
  const timer = setInterval(refresh, 2000);
  timer.unref();
  return () => url;
}
