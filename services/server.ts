/**
 * `urna serve` and `urna mirror`: the process concerns of a node —
 * configuration, the data directory and keys, the store and the checks it
 * must pass before anything is served, the node itself, listening with
 * limits, the background scrub, and a bounded graceful shutdown.
 *
 * A start that fails leaves nothing new behind: what it created (the data
 * dir, generated keys, a new store, the signer state) is removed again.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rm, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { equalBytes, fromUtf8, toBase64, utf8 } from '../ledger/bytes.js';
import { proveConsistency } from '../ledger/merkle.js';
import { parsePolicy, type Policy } from '../ledger/policy.js';
import {
  decodeSignerKey,
  generateSignerKey,
  parseSignerKey,
  parseVerifierKey,
  type NoteVerifier,
} from '../ledger/note.js';
import { signRecord } from '../ledger/record.js';
import { stateKey, type LogState } from '../ledger/rules.js';
import { buildApp, type UrnaApp } from './api/app.js';
import type { HttpLimits } from './api/limits.js';
import type { LogNode } from './node/log-node.js';
import { useNativeCrypto } from './crypto/native.js';
import { RecordPool } from './crypto/record-pool.js';
import { ElectionAdmission } from './election/admission.js';
import { readState } from './election/state.js';
import { CheckpointFeed } from './journal/checkpoints.js';
import { Journal } from './journal/journal.js';
import { Lease } from './journal/lease.js';
import { readKeyFile, writeNewKeyFile } from './key-file.js';
import { errorText, type Logger } from './log.js';
import { Registry } from './metrics.js';
import { Mirror } from './mirror/mirror.js';
import { Scrubber } from './node/scrub.js';
import { ReplicatedNode } from './replica/node.js';
import { acceptAll } from './node/admission.js';
import { Sequencer, type FaultPoint } from './sequencer/sequencer.js';
import { TileCache } from './node/tile-cache.js';
import { openDataDir, UnusableStoreError } from './storage/data-dir.js';
import { FreeSpaceFloor } from './storage/disk-space.js';
import { StoreBehindError } from './storage/errors.js';
import { FileSignerState } from './storage/signer-state.js';
import { writeFileAtomic } from './storage/atomic-file.js';
import { subjects } from './journal/subjects.js';
import { CosignatureCollector } from './witness/collector.js';
import type { LogStore } from './storage/store.js';

/** How a node treats its storage (see the flags of the same names). */
export interface StorageLimits {
  /** LevelDB's budget of open table files. */
  maxOpenFiles: number;
  /** Free bytes below which no new batch is written (503 with Retry-After until space is freed). */
  minFreeBytes: number;
  /** A transient storage fault (disk full, no file descriptors) is retried this often... */
  retryMs: number;
  /** ...and after this long without success the node gives up: it exits non-zero (its supervisor restarts it). */
  giveUpMs: number;
  /** Entries the background scrub re-verifies per second (0: no scrub). */
  scrubEntriesPerSecond: number;
  /** Pause between two scrub passes. */
  scrubPauseMs: number;
}

/** What every node takes: where it keeps its data, how it listens, its limits, its log. */
export interface NodeConfig {
  dataDir: string;
  host: string;
  port: number;
  http: HttpLimits;
  storage: StorageLimits;
  /** On SIGTERM: how long pending work may take before the remaining connections are closed. */
  shutdownMs: number;
  log: Logger;
  /** The counter's results, for the web page's config (`--results`). */
  resultsUrl?: string;
  /** Monitors whose status the web page shows (`--monitor`). */
  monitorUrls?: string[];
}

export interface ServeConfig extends NodeConfig {
  /** Signer key file; default `<dataDir>/log.key`, generated on first start. */
  keyFile?: string;
  /** The signer's memory (the last checkpoint signed); default `<key file>.checkpoint`. */
  signerStateFile?: string;
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
   * Verifier keys (note format) of the authorities a new election log
   * trusts to define elections: written, signed by the log key, as its
   * entry 0 (a `log` record; later changes: `urna authorities`). When empty
   * in `election` mode, a key is generated in the data dir
   * (`authority.key`) and trusted: for development and demos; in production
   * pass the authorities' verifier keys and keep their signer keys offline.
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
  /**
   * A C2SP tlog-policy file: each new checkpoint is offered to its witnesses
   * (those with a URL) and their cosignatures are served (services/witness/collector.ts).
   */
  witnessPolicy?: string;
  /** Test-only: SIGKILL this process at these fault points with this probability. */
  crashAt?: FaultPoint[];
  crashProbability?: number;
}

export interface MirrorConfig extends NodeConfig {
  /** The log's verifier key (note format); its name is the origin. */
  logKey: string;
  /** NATS server URL(s), comma-separated. */
  nats: string;
  natsReplicas?: 1 | 3;
  /** As for `serve`: the rules the log runs (what it trusts is in the log). */
  rules: 'election' | 'none';
  /** A C2SP tlog-policy file: serve the cosignatures the log's leader collects (from urna.<log>.cosig). */
  witnessPolicy?: string;
}

/** A running node: its URL, the log's verifier key, and how to stop it. */
export interface RunningNode {
  url: string;
  verifierKey: string;
  /** Stops gracefully, within the configured shutdown time. */
  close(): Promise<void>;
  /** Resolves with the error if the node stops by itself for good (the process should then exit non-zero). */
  failed: Promise<Error>;
  log: Logger;
}

/** The start could not go on: the message says what is wrong and what to do. */
export class StartError extends Error {}

/**
 * What a start created, to remove again if the start fails: a failed start
 * leaves the machine as it found it. Steps run in reverse order.
 */
class Undo {
  private readonly steps: Array<() => Promise<void>> = [];
  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }
  /** Creates `dir` (and parents); if it did not exist, it is removed with everything in it on undo. */
  async mkdir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) this.add(() => rm(first, { recursive: true, force: true }));
  }
  /** Removes `file` on undo if it does not exist now (it is about to be created). */
  async fileToBe(file: string): Promise<void> {
    if (!(await exists(file))) this.add(() => unlink(file).catch(() => {}));
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch(() => {});
    this.steps.length = 0;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Reads a signer key file; when `generate` names a key and the file does not
 * exist, generates it first (mode 0600). Returns whether it was created.
 */
async function loadOrCreateKey(
  file: string,
  generate: string | null,
  undo: Undo,
): Promise<{ skey: string; created: boolean }> {
  if (generate === null || (await exists(file))) return { skey: await readKeyFile(file), created: false };
  const { signerKey } = generateSignerKey(generate);
  await writeNewKeyFile(file, signerKey);
  undo.add(() => unlink(file));
  return { skey: signerKey, created: true };
}

/** The trusted authorities as base64 public keys (the form records carry). */
async function authorityKeys(config: ServeConfig, undo: Undo): Promise<string[]> {
  if (config.rules === 'none') return [];
  if (config.authorities.length)
    return config.authorities.map((v) => toBase64(parseVerifierKey(v).publicKey));
  const file = join(config.dataDir, 'authority.key');
  const { skey, created } = await loadOrCreateKey(file, `${config.origin}/authority`, undo);
  if (created) config.log.info({ file }, 'generated an election authority key (development and demos)');
  return [toBase64(parseSignerKey(skey).publicKey)];
}

/**
 * `--authority` is what a new log trusts (its entry 0); after that the log's
 * own `log` records say. Warns when the flags given name another set, so an
 * operator who meant to change it learns that `urna authorities` does.
 */
async function warnIfTrustDiffers(
  config: ServeConfig,
  store: LogStore,
  authorities: string[],
): Promise<void> {
  if (config.authorities.length === 0) return;
  const trusted = (await readState(store, [stateKey.log()])).get(stateKey.log()) as LogState | undefined;
  if (!trusted) return;
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((k, i) => k === [...b].sort()[i]);
  if (same(trusted.authorities, authorities)) return;
  config.log.warn(
    { trusted: trusted.authorities, flags: authorities, records: trusted.records },
    'the log trusts the authorities of its log records, not these --authority keys (they only begin a new log); ' +
      'to change what it trusts: urna authorities',
  );
}

/** Where a node keeps the newest checkpoint its witness quorum cosigned (atomically replaced). */
const COSIGNED_FILE = 'cosigned.checkpoint';

/**
 * The cosignatures of `--witness-policy FILE` (services/witness/collector.ts).
 * The policy must list this log (a `log` line with its verifier key); a
 * sequencer (`ask`) also needs a witness with a URL. The newest checkpoint
 * the quorum cosigned is kept in the data dir (and taken back at start) and,
 * with NATS, published on `urna.<log>.cosig`; every node of the log takes
 * what is published there (`listen`), so a standby that takes over, or a
 * mirror, serves the cosigned checkpoints too.
 */
async function witnessCollector(
  file: string,
  opts: {
    verifier: NoteVerifier & { publicKey: Uint8Array };
    tiles: TileCache;
    dataDir: string;
    log: Logger;
    ask: boolean;
  },
): Promise<CosignatureCollector & { listen(nc: NatsConnection): void }> {
  const { verifier, log } = opts;
  let policy: Policy;
  try {
    policy = parsePolicy(await readFile(file, 'utf8'));
  } catch (e) {
    throw new StartError(`--witness-policy ${file}: ${errorText(e)}`);
  }
  if (
    !policy.logs.some(
      (l) => l.verifier.name === verifier.name && equalBytes(l.verifier.publicKey, verifier.publicKey),
    )
  )
    throw new StartError(
      `--witness-policy ${file}: no log line with this log's verifier key (${verifier.name})`,
    );
  const keep = join(opts.dataDir, COSIGNED_FILE);
  let nc: NatsConnection | null = null;
  // One write at a time, always the newest: a checkpoint a second at most is written.
  let pending: string | null = null;
  let writing = false;
  const write = async () => {
    if (writing) return;
    writing = true;
    try {
      while (pending !== null) {
        const note = pending;
        pending = null;
        await writeFileAtomic(keep, note).catch((e: unknown) =>
          log.warn({ file: keep, err: errorText(e) }, 'could not keep the cosigned checkpoint'),
        );
      }
    } finally {
      writing = false;
    }
  };
  const collector = new CosignatureCollector({
    policy,
    prove: (from, to) => opts.tiles.withHashes(to, (r) => proveConsistency(from, to, r)),
    log,
    onQuorum: (c) => {
      pending = c.note;
      void write();
      if (opts.ask && nc && !nc.isClosed()) nc.publish(subjects(verifier.name).cosig, utf8(c.note));
    },
  }) as CosignatureCollector & { listen(nc: NatsConnection): void };
  if (opts.ask && collector.asked.length === 0)
    throw new StartError(`--witness-policy ${file}: no witness line with a URL to ask`);
  const kept = await readFile(keep, 'utf8').catch(() => null);
  if (kept !== null && !collector.absorb(kept, verifier.name))
    log.warn({ file: keep }, 'the kept cosigned checkpoint does not verify under the policy: ignored');
  collector.listen = (conn) => {
    nc = conn;
    const sub = conn.subscribe(subjects(verifier.name).cosig);
    void (async () => {
      for await (const m of sub) collector.absorb(fromUtf8(m.data), verifier.name);
    })();
  };
  return collector;
}

/** Files this process may have open at once (RLIMIT_NOFILE soft limit), where the OS says; null elsewhere. */
async function openFileLimit(): Promise<number | null> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!m) return null;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** File descriptors kept for what is neither a connection nor a LevelDB table: NATS, workers, logs, the signer state. */
export const RESERVED_FILES = 256;

/**
 * Checks that connections and LevelDB's tables cannot exhaust the
 * process's file descriptors (which would make LevelDB fail to open a file,
 * a sticky error): `ulimit -n` must cover both plus a reserve.
 */
async function checkFileLimit(config: NodeConfig): Promise<void> {
  const limit = await openFileLimit();
  const need = config.http.maxConnections + config.storage.maxOpenFiles + RESERVED_FILES;
  if (limit === null || need <= limit) return;
  throw new StartError(
    `this process may open ${limit} files (ulimit -n), but up to ${need} may be needed: ` +
      `--max-connections ${config.http.maxConnections} + LevelDB --max-open-files ${config.storage.maxOpenFiles} ` +
      `+ ${RESERVED_FILES} for everything else. Raise the limit (ulimit -n ${need}) or lower those flags`,
  );
}

/**
 * NATS connection settings of every node: reconnect for ever (a node outlives
 * an outage of the whole NATS cluster: a leader steps down when its appends
 * go unanswered, and everyone resumes when NATS is back), every 500 ms.
 */
const NATS_OPTIONS = { maxReconnectAttempts: -1, reconnectTimeWait: 500 } as const;

/** Process-wide: the native crypto backends (ledger/ stays portable; Node is faster). */
/** What every node of a log opens in its data dir: the store (checked), its tile cache, the rules, metrics, the floor. */
async function openLocal(
  config: NodeConfig,
  opts: {
    verifier: NoteVerifier & { publicKey: Uint8Array };
    rules: 'election' | 'none';
    rebuild: boolean;
    undo: Undo;
  },
) {
  const { log, storage } = config;
  const { store, created } = await openDataDir(config.dataDir, {
    origin: opts.verifier.name,
    maxOpenFiles: storage.maxOpenFiles,
    rebuild: opts.rebuild,
    warn: (message) => log.warn({ dataDir: config.dataDir }, message),
  });
  if (created) {
    opts.undo.add(async () => {
      await rm(join(config.dataDir, 'db'), { recursive: true, force: true });
      await unlink(join(config.dataDir, 'store.json')).catch(() => {});
    });
  }
  const metrics = new Registry();
  const tiles = new TileCache(store);
  const pool = opts.rules === 'election' ? new RecordPool() : null;
  const admission = pool
    ? new ElectionAdmission({
        store,
        tiles,
        pool,
        log: { key: toBase64(opts.verifier.publicKey), origin: opts.verifier.name },
      })
    : acceptAll;
  const floor = new FreeSpaceFloor(config.dataDir, storage.minFreeBytes, log);
  await floor.start();
  const close = async () => {
    floor.stop();
    await pool?.close();
    await store.close();
  };
  opts.undo.add(close);
  return { store, metrics, tiles, admission, floor, close };
}

type Local = Awaited<ReturnType<typeof openLocal>>;

/**
 * Connects to NATS and binds to the log's journal and checkpoint feed
 * (creating their streams if absent). Closes what it opened if a step fails.
 */
async function openReplication(nats: string, origin: string, replicas: 1 | 3, who: string, log: Logger) {
  const nc = await connect({ ...NATS_OPTIONS, servers: nats.split(','), name: `urna ${who} ${origin}` });
  try {
    const journal = await whileNatsSettles(log, 'open the journal', () =>
      Journal.open(nc, origin, { replicas }),
    );
    const feed = await whileNatsSettles(log, 'open the checkpoint feed', () =>
      CheckpointFeed.open(nc, origin, { replicas }),
    );
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

/** How long a starting node waits for a NATS cluster that is still settling. */
const NATS_SETTLE_MS = 30_000;

/**
 * Runs a JetStream set-up step (creating or binding a stream or a KV
 * bucket), again after a pause while it times out or finds no JetStream to
 * answer, for up to NATS_SETTLE_MS: nodes started together with a fresh
 * NATS cluster (`npm run cluster`, compose) meet it electing its leaders
 * and racing each other to create the same streams.
 */
async function whileNatsSettles<T>(log: Logger, what: string, step: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + NATS_SETTLE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const settling = code === 'TIMEOUT' || code === '503' || /timeout|no responders/i.test(errorText(e));
      if (!settling || performance.now() > deadline) throw e;
      log.warn({ attempt, err: errorText(e) }, `NATS is not ready yet: retrying to ${what}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 250 * attempt)));
    }
  }
}

/**
 * Serves `node` over HTTP with the configured limits, starts the scrub, and
 * returns the running node. Its close is bounded: new requests get 503
 * `shutting_down`, the node finishes what is pending (`drain`), and the
 * connections still open after `shutdownMs` are closed.
 */
async function run(
  config: NodeConfig,
  local: Local,
  node: LogNode,
  how: {
    drain(ms: number): Promise<void>;
    stop(): Promise<void>;
    verifierKey: string;
    failed: Promise<Error>;
    cosignatures?: CosignatureCollector;
    /** The witness policy file, for the web page's config. */
    witnessPolicy?: string;
  },
  undo: Undo,
): Promise<RunningNode & { app: UrnaApp }> {
  const { log } = config;
  const app = await buildApp({
    node,
    store: local.store,
    metrics: local.metrics,
    log,
    limits: config.http,
    ...(how.cosignatures ? { cosignatures: how.cosignatures } : {}),
    web: {
      logKey: how.verifierKey,
      ...(config.resultsUrl ? { results: config.resultsUrl } : {}),
      ...(config.monitorUrls ? { monitors: config.monitorUrls } : {}),
      ...(how.witnessPolicy ? { witnessPolicy: await readFile(how.witnessPolicy, 'utf8') } : {}),
    },
  });
  undo.add(() => app.close());
  const url = await app.listen({ host: config.host, port: config.port });
  const scrub = new Scrubber({
    store: local.store,
    head: () => node.head,
    entriesPerSecond: config.storage.scrubEntriesPerSecond,
    pauseMs: config.storage.scrubPauseMs,
    onCorrupt: (e) => node.storageCorrupt?.(e),
    log,
    metrics: local.metrics,
  });
  scrub.start();
  let closing: Promise<void> | null = null;
  const close = async () => {
    app.closing = true;
    const force = setTimeout(() => {
      log.warn({ afterMs: config.shutdownMs }, 'shutdown: closing the connections still open');
      app.server.closeAllConnections();
    }, config.shutdownMs);
    try {
      const closed = app.close(); // stops listening; waits for the requests in flight
      await scrub.stop();
      await how.drain(config.shutdownMs);
      await closed;
    } finally {
      clearTimeout(force);
    }
    await how.stop();
    how.cosignatures?.close();
    await local.close();
  };
  return {
    app,
    url,
    verifierKey: how.verifierKey,
    failed: how.failed,
    log,
    close: () => (closing ??= close()),
  };
}

/** The default lease id of a node: its host and a digest of its data dir (unique per node, stable across restarts). */
function defaultNodeId(dataDir: string): string {
  const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8);
  return `${hostname()}-${digest}`;
}

/** What the operator can do about a store that cannot be served, by setup. */
function storeRemedy(config: ServeConfig): string {
  return config.nats
    ? 'the journal does not hold what the log key signed either (a NATS majority lost acknowledged batches?): ' +
        'restore the data dir from a mirror with `urna restore --from URL --data DIR`'
    : `restore the data dir from a mirror or any copy of the tiles: urna restore --from URL --data ${config.dataDir}` +
        (config.keyFile ? ` --key ${config.keyFile}` : '');
}

/** Starts the log; resolves once it listens. */
export async function serve(config: ServeConfig): Promise<RunningNode> {
  useNativeCrypto();
  const { log } = config;
  const undo = new Undo();
  try {
    await undo.mkdir(config.dataDir);
    const keyFile = config.keyFile ?? join(config.dataDir, 'log.key');
    const { skey, created } = await loadOrCreateKey(keyFile, config.keyFile ? null : config.origin, undo);
    const signer = parseSignerKey(skey);
    const verifier = parseVerifierKey(signer.verifierKey);
    const signerState = new FileSignerState(config.signerStateFile ?? `${keyFile}.checkpoint`);
    await undo.fileToBe(signerState.where);
    const authorities = await authorityKeys(config, undo);
    await checkFileLimit(config);
    const local = await openLocal(config, {
      verifier,
      rules: config.rules,
      rebuild: config.nats !== undefined,
      undo,
    });
    if (config.rules === 'election') await warnIfTrustDiffers(config, local.store, authorities);
    // An election log begins with its `log` record: signed by the log key, naming the authorities it trusts.
    const genesis =
      config.rules === 'election'
        ? signRecord(
            { v: 1, type: 'log', body: { origin: signer.name, sequence: 0, authorities } },
            decodeSignerKey(skey).seed,
          )
        : undefined;
    const crashAt = new Set(config.crashAt ?? []);
    const cosignatures = config.witnessPolicy
      ? await witnessCollector(config.witnessPolicy, {
          verifier,
          tiles: local.tiles,
          dataDir: config.dataDir,
          log,
          ask: true,
        })
      : undefined;
    if (cosignatures) undo.add(async () => cosignatures.close());
    const sequencing = {
      ...(genesis ? { genesis } : {}),
      ...(cosignatures ? { onCheckpoint: (note: string) => cosignatures.offer(note) } : {}),
      batchPeriodMs: config.batchPeriodMs,
      maxBatch: config.maxBatch,
      maxPending: config.maxPending,
      canWrite: () => local.floor.check(),
      storageRetry: { retryMs: config.storage.retryMs, giveUpMs: config.storage.giveUpMs },
      fault: (point: FaultPoint) => {
        if (crashAt.has(point) && Math.random() < (config.crashProbability ?? 1))
          process.kill(process.pid, 'SIGKILL');
      },
    };
    let running: RunningNode;
    if (!config.nats) {
      let fail!: (e: Error) => void;
      const failed = new Promise<Error>((resolve) => (fail = resolve));
      const sequencer = await Sequencer.open({
        ...sequencing,
        store: local.store,
        signer,
        verifier,
        signerState,
        metrics: local.metrics,
        tiles: local.tiles,
        admission: local.admission,
        log,
        onStop: (e) => fail(e),
      });
      undo.add(() => sequencer.stop());
      // A new election log writes its first entry before it serves anyone.
      sequencer.start();
      if (sequencer.genesis) await sequencer.genesis;
      running = await run(
        config,
        local,
        sequencer,
        {
          drain: (ms) => sequencer.drain(ms),
          stop: () => sequencer.stop(),
          verifierKey: signer.verifierKey,
          failed,
          ...(cosignatures ? { cosignatures } : {}),
          ...(config.witnessPolicy ? { witnessPolicy: config.witnessPolicy } : {}),
          ...(config.witnessPolicy ? { witnessPolicy: config.witnessPolicy } : {}),
        },
        undo,
      );
    } else {
      const replicas = config.natsReplicas ?? 1;
      const replication = await openReplication(config.nats, signer.name, replicas, 'serve', log);
      undo.add(() => replication.close());
      const { nc, journal, feed } = replication;
      cosignatures?.listen(nc);
      if (created && (await journal.lastSequence()) > 0) {
        // The journal holds this origin's log, signed by a key this data dir
        // no longer has: rebuilding under a new key would be another log with
        // the same name. Refuse; the log key must survive the data dir.
        throw new StartError(
          `the journal of ${signer.name} is not empty but no log key was found in ${config.dataDir}: ` +
            'pass the log key with --key (keep it outside the data dir to rebuild from the journal)',
        );
      }
      const lease = await whileNatsSettles(log, 'open the lease', () =>
        Lease.open(nc, signer.name, config.nodeId ?? defaultNodeId(config.dataDir), {
          ttlMs: config.leaseMs ?? 3000,
          replicas,
        }),
      );
      const node = await ReplicatedNode.open({
        nc,
        journal,
        feed,
        lease,
        store: local.store,
        tiles: local.tiles,
        admission: local.admission,
        signer,
        verifier,
        signerState,
        metrics: local.metrics,
        sequencer: sequencing,
        log,
      });
      undo.add(() => node.close());
      running = await run(
        config,
        local,
        node,
        {
          drain: (ms) => node.drain(ms),
          stop: async () => {
            await node.close();
            await replication.close();
          },
          verifierKey: signer.verifierKey,
          failed: new Promise<Error>(() => {}), // a replicated node steps down instead
          ...(cosignatures ? { cosignatures } : {}),
          ...(config.witnessPolicy ? { witnessPolicy: config.witnessPolicy } : {}),
          ...(config.witnessPolicy ? { witnessPolicy: config.witnessPolicy } : {}),
        },
        undo,
      );
      lease.url = config.advertise ?? running.url;
      node.contend();
      // Ready once the first contention settled: leading (caught up and signed), or a standby that knows the leader.
      await node.settled;
    }
    if (created) log.info({ file: keyFile }, 'generated the log key');
    log.info(
      {
        origin: signer.name,
        url: running.url,
        dataDir: config.dataDir,
        role: config.nats ? 'replicated' : 'single',
      },
      'serving the log',
    );
    return running;
  } catch (e) {
    await undo.run();
    if (e instanceof StoreBehindError || e instanceof UnusableStoreError)
      throw new StartError(
        `${errorText(e)}. Nothing is served or signed over this store. ${storeRemedy(config)}`,
        {
          cause: e,
        },
      );
    throw e;
  }
}

/** Starts a mirror of the log named by `logKey`; resolves once it listens. */
export async function mirror(config: MirrorConfig): Promise<RunningNode> {
  useNativeCrypto();
  const verifier = parseVerifierKey(config.logKey);
  const undo = new Undo();
  try {
    await undo.mkdir(config.dataDir);
    await checkFileLimit(config);
    const local = await openLocal(config, {
      verifier,
      rules: config.rules,
      rebuild: true,
      undo,
    });
    const replication = await openReplication(
      config.nats,
      verifier.name,
      config.natsReplicas ?? 1,
      'mirror',
      config.log,
    );
    undo.add(() => replication.close());
    const { nc, journal, feed } = replication;
    const cosignatures = config.witnessPolicy
      ? await witnessCollector(config.witnessPolicy, {
          verifier,
          tiles: local.tiles,
          dataDir: config.dataDir,
          log: config.log,
          ask: false,
        })
      : undefined;
    if (cosignatures) {
      undo.add(async () => cosignatures.close());
      cosignatures.listen(nc);
    }
    const node = await Mirror.open({
      store: local.store,
      tiles: local.tiles,
      admission: local.admission,
      verifier,
      follow: (fromSeq, o) => journal.follow(fromSeq, { ...o, pollMs: 250 }),
      checkpoints: feed,
      leader: leaderHint(nc, verifier.name),
      metrics: local.metrics,
      log: config.log,
      retryMs: config.storage.retryMs,
    });
    const running = await run(
      config,
      local,
      node,
      {
        drain: async () => {},
        stop: async () => {
          await node.stop();
          await replication.close();
        },
        verifierKey: config.logKey,
        failed: new Promise<Error>(() => {}),
        ...(cosignatures ? { cosignatures } : {}),
        ...(config.witnessPolicy ? { witnessPolicy: config.witnessPolicy } : {}),
      },
      undo,
    );
    node.start();
    config.log.info(
      { origin: verifier.name, url: running.url, dataDir: config.dataDir },
      'mirroring the log',
    );
    return running;
  } catch (e) {
    await undo.run();
    throw e;
  }
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
