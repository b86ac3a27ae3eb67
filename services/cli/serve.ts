/**
 * `urna serve` and `urna mirror`: the node commands. Their flags are
 * described once here (with the node flags both share); the config they
 * build is what services/server.ts runs.
 */
import type { HttpLimits } from '../api/limits.js';
import { createLogger, LOG_LEVELS } from '../log.js';
import { mirror, RESERVED_FILES, serve, type NodeConfig, type RunningNode } from '../server.js';
import type { FaultPoint } from '../sequencer/sequencer.js';
import type { Command, Flag, Parsed } from './command.js';
import { LOG_KEY_FLAG, readVerifierKeyArg } from './client-common.js';
import { UsageError } from './usage-error.js';

/** Splits HOST:PORT (IPv6 in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT, got ${text}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

const RULES: Flag = {
  name: 'rules',
  value: 'election|none',
  env: 'URNA_RULES',
  default: 'election',
  help: 'election: only election records the rules admit; none: a log of opaque entries (any bytes up to 65,535)',
};

const AUTHORITY: Flag = {
  name: 'authority',
  value: 'VKEY',
  multiple: true,
  env: 'URNA_AUTHORITIES',
  help: 'a verifier key of an election authority a new log trusts to define elections (its entry 0; later: urna authorities)',
};

const NATS_REPLICAS: Flag = {
  name: 'nats-replicas',
  value: '1|3',
  env: 'URNA_NATS_REPLICAS',
  default: '1',
  help: 'replicas of the journal stream',
};

/** The flags every node takes: logging, HTTP limits, storage limits, the scrub, shutdown. */
export const NODE_FLAGS: Flag[] = [
  {
    name: 'results',
    value: 'URL',
    env: 'URNA_RESULTS',
    help: "where the web page at /web/ reads the counter's results (its --listen, or a copy of its --out files)",
  },
  {
    name: 'monitor',
    value: 'URL',
    env: 'URNA_MONITORS',
    multiple: true,
    help: 'a monitor (urna monitor --listen) whose status and alarms the web page at /web/ shows',
  },
  {
    name: 'log-level',
    value: 'LEVEL',
    env: 'URNA_LOG_LEVEL',
    default: 'info',
    help: `structured logs (JSON lines) on stderr from this level on: ${LOG_LEVELS.join(', ')}`,
  },
  {
    name: 'max-connections',
    value: 'N',
    env: 'URNA_MAX_CONNECTIONS',
    help:
      'open HTTP connections at most (default: 4096, or what fits in ulimit -n beside --max-open-files ' +
      `and ${RESERVED_FILES} other files)`,
  },
  {
    name: 'max-connections-per-client',
    value: 'N',
    env: 'URNA_MAX_CONNECTIONS_PER_CLIENT',
    default: '128',
    help: 'open connections from one client address at most (0: no cap)',
  },
  {
    name: 'headers-timeout-ms',
    value: 'MS',
    env: 'URNA_HEADERS_TIMEOUT_MS',
    default: '10000',
    help: "time to receive a request's headers",
  },
  {
    name: 'request-timeout-ms',
    value: 'MS',
    env: 'URNA_REQUEST_TIMEOUT_MS',
    default: '30000',
    help: 'time to receive a whole request (408 after it)',
  },
  {
    name: 'keep-alive-ms',
    value: 'MS',
    env: 'URNA_KEEP_ALIVE_MS',
    default: '10000',
    help: 'idle time a kept-alive connection may wait for its next request',
  },
  {
    name: 'rate-writes',
    value: 'N',
    env: 'URNA_RATE_WRITES',
    default: '1000',
    help: 'submissions (POST /add) per second per client address (429 beyond; 0: unlimited)',
  },
  {
    name: 'rate-rejected',
    value: 'N',
    env: 'URNA_RATE_REJECTED',
    default: '100',
    help:
      'refused submissions (4xx) per 10 seconds per client address, beyond which its submissions get 429 at once ' +
      'for the rest of the 10 s (0: unlimited)',
  },
  {
    name: 'rate-proofs',
    value: 'N',
    env: 'URNA_RATE_PROOFS',
    default: '100',
    help: 'proof requests (/receipt, /proof/*) per second per client address (0: unlimited)',
  },
  {
    name: 'rate-reads',
    value: 'N',
    env: 'URNA_RATE_READS',
    default: '2000',
    help: 'other reads (tiles, checkpoint, records, elections, ballots) per second per client address (0: unlimited)',
  },
  {
    name: 'old-proofs-per-second',
    value: 'N',
    env: 'URNA_OLD_PROOFS_PER_SECOND',
    default: '20',
    help: 'proofs at tree sizes other than the latest checkpoint, per second over all clients (503 busy beyond; 0: unlimited)',
  },
  {
    name: 'trust-proxy',
    env: 'URNA_TRUST_PROXY',
    help: 'take the client address from X-Forwarded-For (behind a reverse proxy)',
  },
  {
    name: 'max-open-files',
    value: 'N',
    env: 'URNA_MAX_OPEN_FILES',
    default: '500',
    help: 'LevelDB table files open at most',
  },
  {
    name: 'min-free-mb',
    value: 'MB',
    env: 'URNA_MIN_FREE_MB',
    default: '256',
    help: 'free space on the data dir below which no new batch is written (503 until space is freed)',
  },
  {
    name: 'storage-retry-ms',
    value: 'MS',
    env: 'URNA_STORAGE_RETRY_MS',
    default: '1000',
    help: 'after a storage fault (disk full, out of file descriptors), retry reopening the store this often',
  },
  {
    name: 'storage-give-up-ms',
    value: 'MS',
    env: 'URNA_STORAGE_GIVE_UP_MS',
    default: '60000',
    help: 'give up on a storage fault after this long: a single node exits non-zero, a leader steps down',
  },
  {
    name: 'scrub-rate',
    value: 'N',
    env: 'URNA_SCRUB_RATE',
    default: '5000',
    help: 'entries per second the background scrub re-verifies against the signed head (0: off)',
  },
  {
    name: 'scrub-pause-ms',
    value: 'MS',
    env: 'URNA_SCRUB_PAUSE_MS',
    default: '60000',
    help: 'pause between two scrub passes',
  },
  {
    name: 'shutdown-ms',
    value: 'MS',
    env: 'URNA_SHUTDOWN_MS',
    default: '5000',
    help: 'on SIGTERM, time for pending work before the remaining connections are closed',
  },
];

/** Files this process may open (RLIMIT_NOFILE), read from /proc where there is one. */
async function fileLimit(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /^Max open files\s+(\d+)/m.exec(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  return m ? Number(m[1]) : Infinity;
}

/** The node config from the node flags; `listen` the default address. */
async function nodeConfig(p: Parsed, defaults: { data: string }): Promise<NodeConfig> {
  const { host, port } = parseListen(p.required('listen'));
  const level = p.choice('log-level', LOG_LEVELS)!;
  const maxOpenFiles = p.int('max-open-files', 16)!;
  const explicit = p.int('max-connections', 1);
  const fits = (await fileLimit()) - maxOpenFiles - RESERVED_FILES;
  const maxConnections = explicit ?? Math.max(16, Math.min(4096, fits));
  const http: HttpLimits = {
    maxConnections,
    maxConnectionsPerClient: p.int('max-connections-per-client')!,
    headersTimeoutMs: p.int('headers-timeout-ms', 1)!,
    requestTimeoutMs: p.int('request-timeout-ms', 1)!,
    keepAliveTimeoutMs: p.int('keep-alive-ms', 1)!,
    rate: {
      writes: p.int('rate-writes')!,
      rejected: p.int('rate-rejected')!,
      proofs: p.int('rate-proofs')!,
      reads: p.int('rate-reads')!,
    },
    oldSizeProofsPerSecond: p.int('old-proofs-per-second')!,
    trustProxy: p.bool('trust-proxy'),
  };
  return {
    dataDir: p.string('data') ?? defaults.data,
    host,
    port,
    http,
    storage: {
      maxOpenFiles,
      minFreeBytes: p.int('min-free-mb')! * 1024 * 1024,
      retryMs: p.int('storage-retry-ms', 1)!,
      giveUpMs: p.int('storage-give-up-ms', 1)!,
      scrubEntriesPerSecond: p.int('scrub-rate')!,
      scrubPauseMs: p.int('scrub-pause-ms')!,
    },
    shutdownMs: p.int('shutdown-ms')!,
    log: createLogger(level),
    ...(p.string('results') ? { resultsUrl: p.string('results')! } : {}),
    ...(p.list('monitor').length ? { monitorUrls: p.list('monitor') } : {}),
  };
}

export const serveCommand: Command = {
  name: 'serve',
  summary:
    'the log: sequencer, LevelDB, HTTP API (single node, or with --nats one sequencer of a replicated log)',
  description: `LevelDB in DIR, HTTP on HOST:PORT. A key named ORIGIN is generated in DIR on first start unless --key
    is given. With the election rules (the default), a new log's entry 0 is a log record, signed by the log key, naming
    the --authority keys as the ones that may define elections (without any, a key is generated in DIR/authority.key
    and trusted: development and demos); later, urna authorities changes them while no election is open. Every
    reader of the log then needs only the log's key.

    The last checkpoint the key signed is kept outside the store (the signer state, default KEYFILE.checkpoint,
    written durably before any receipt goes out). A store that is behind it or contradicts it (a truncated or
    corrupted write-ahead log, a deleted database, a restored backup) is never served or signed over: urna serve
    refuses to start and names the remedy (urna restore, or with --nats a rebuild from the journal). Keep the key and
    its signer state outside the data dir in production, so that a restored or lost data dir is detected.

    With --nats, each batch is appended to the log's JetStream journal before it is committed, and the log catches up
    from the journal on start (an unusable store is moved aside and rebuilt from it, given the log key with --key).
    Several sequencers of one log elect a leader through a NATS KV lease; the others follow the journal, serve reads
    and answer submissions with 503 not_leader naming the leader's --advertise URL, and take over when the leader stops
    renewing. A leader that loses the lease or meets another one's batch at its position steps down at once.`,
  flags: [
    { name: 'data', value: 'DIR', env: 'URNA_DATA', default: './data', help: 'the data directory' },
    {
      name: 'listen',
      value: 'HOST:PORT',
      env: 'URNA_LISTEN',
      default: '127.0.0.1:8080',
      help: 'HTTP address',
    },
    {
      name: 'key',
      value: 'SKEYFILE',
      env: 'URNA_KEY',
      help: 'the log signer key (mode 0600; default DIR/log.key, generated)',
    },
    {
      name: 'signer-state',
      value: 'FILE',
      env: 'URNA_SIGNER_STATE',
      help: 'the signer state: the last checkpoint the key signed (default: the key file with .checkpoint appended)',
    },
    {
      name: 'origin',
      value: 'NAME',
      env: 'URNA_ORIGIN',
      default: 'urna.localhost/log',
      help: 'the name of a generated key (the log origin)',
    },
    AUTHORITY,
    RULES,
    {
      name: 'batch-ms',
      value: 'MS',
      env: 'URNA_BATCH_MS',
      default: '10',
      help: 'least time between the starts of two batches (a batch starts once the last is durable and answered)',
    },
    {
      name: 'max-batch',
      value: 'N',
      env: 'URNA_MAX_BATCH',
      default: '4096',
      help: 'entries per batch at most',
    },
    {
      name: 'max-pending',
      value: 'N',
      env: 'URNA_MAX_PENDING',
      default: '65536',
      help: 'entries waiting for a receipt at most (503 pushback beyond)',
    },
    {
      name: 'nats',
      value: 'URL[,URL...]',
      env: 'URNA_NATS',
      help: 'replicate through the JetStream journal',
    },
    NATS_REPLICAS,
    {
      name: 'node-id',
      value: 'ID',
      env: 'URNA_NODE_ID',
      help: 'this sequencer in the lease: unique per node, stable across restarts (default: host name and data dir)',
    },
    {
      name: 'advertise',
      value: 'URL',
      env: 'URNA_ADVERTISE',
      help: 'the URL standbys name to submitters while this node leads (default: the listen address)',
    },
    {
      name: 'lease-ms',
      value: 'MS',
      env: 'URNA_LEASE_MS',
      default: '3000',
      help: 'the lease TTL (with --nats)',
    },
    {
      name: 'witness-policy',
      value: 'FILE',
      env: 'URNA_WITNESS_POLICY',
      help:
        'a C2SP tlog-policy file: each new checkpoint is offered to its witnesses (those with a URL); GET /checkpoint ' +
        'then carries their cosignatures, GET /receipt answers under the newest checkpoint the quorum cosigned',
    },
    ...NODE_FLAGS,
  ],
  async run(p) {
    const env = process.env;
    const advertise = p.string('advertise');
    if (advertise !== undefined && !/^https?:\/\/[^/]+/.test(advertise))
      throw new UsageError(`--advertise must be an http(s) URL, got ${advertise}`);
    const keyFile = p.string('key');
    const signerState = p.string('signer-state');
    const nats = p.string('nats');
    const nodeId = p.string('node-id');
    const node = await serve({
      ...(await nodeConfig(p, { data: './data' })),
      ...(keyFile ? { keyFile } : {}),
      ...(signerState ? { signerStateFile: signerState } : {}),
      ...(nats ? { nats, natsReplicas: Number(p.choice('nats-replicas', ['1', '3'])) as 1 | 3 } : {}),
      ...(nodeId ? { nodeId } : {}),
      ...(advertise ? { advertise } : {}),
      leaseMs: p.int('lease-ms', 1)!,
      ...(p.string('witness-policy') ? { witnessPolicy: p.string('witness-policy')! } : {}),
      origin: p.required('origin'),
      batchPeriodMs: p.int('batch-ms', 1)!,
      maxBatch: p.int('max-batch', 1)!,
      maxPending: p.int('max-pending', 1)!,
      rules: p.choice('rules', ['election', 'none'])!,
      authorities: p.list('authority'),
      crashAt: (env.URNA_CRASH_AT ?? '').split(',').filter(Boolean) as FaultPoint[],
      crashProbability: Number(env.URNA_CRASH_PROBABILITY ?? '1'),
    });
    process.stdout.write(`urna: log ${node.verifierKey}\nurna: listening on ${node.url}\n`);
    return untilStopped(node, p.int('shutdown-ms')!);
  },
};

export const mirrorCommand: Command = {
  name: 'mirror',
  summary: 'a read-only mirror of a replicated log, rebuilt from its journal, serving the read API',
  description: `Follows the journal into LevelDB in DIR, rebuilds the same tiles and projections, checks every batch's
    root and every signed checkpoint (VKEY: the log's verifier key, text or file), and serves the read API at the latest
    checkpoint it can prove. The log's key is all it needs: what an election log trusts is in the log (its log
    records). An unusable store is moved aside and rebuilt from the journal.`,
  flags: [
    {
      name: 'nats',
      value: 'URL[,URL...]',
      env: 'URNA_NATS',
      required: true,
      help: 'the NATS servers carrying the journal',
    },
    LOG_KEY_FLAG,
    { name: 'data', value: 'DIR', env: 'URNA_DATA', default: './mirror-data', help: 'the data directory' },
    {
      name: 'listen',
      value: 'HOST:PORT',
      env: 'URNA_LISTEN',
      default: '127.0.0.1:8081',
      help: 'HTTP address',
    },
    NATS_REPLICAS,
    RULES,
    {
      name: 'witness-policy',
      value: 'FILE',
      env: 'URNA_WITNESS_POLICY',
      help:
        'a C2SP tlog-policy file: serve the cosignatures the log collects (taken from urna.<log>.cosig, verified ' +
        'under the policy) on /checkpoint and /receipt, as the sequencer does',
    },
    ...NODE_FLAGS,
  ],
  async run(p) {
    const node = await mirror({
      ...(await nodeConfig(p, { data: './mirror-data' })),
      nats: p.required('nats'),
      natsReplicas: Number(p.choice('nats-replicas', ['1', '3'])) as 1 | 3,
      logKey: await readVerifierKeyArg(p.required('log-key')),
      rules: p.choice('rules', ['election', 'none'])!,
      ...(p.string('witness-policy') ? { witnessPolicy: p.string('witness-policy')! } : {}),
    });
    process.stdout.write(`urna: mirror of ${node.verifierKey}\nurna: listening on ${node.url}\n`);
    return untilStopped(node, p.int('shutdown-ms')!);
  },
};

/**
 * Runs until SIGINT/SIGTERM, then closes gracefully within `shutdownMs`
 * and exits 0 (1 if closing failed, or took more than `shutdownMs` + 5 s);
 * or until the node stops by itself for good, then exits 1, so that its
 * supervisor restarts it. A second signal exits at once.
 */
export function untilStopped(node: RunningNode, shutdownMs: number): Promise<number> {
  let stopping = false;
  const { log } = node;
  const stop = (why: string, code: number) => {
    if (stopping) process.exit(code || 1);
    stopping = true;
    log.info({ why, boundMs: shutdownMs }, 'shutting down');
    setTimeout(() => {
      log.error({ afterMs: shutdownMs + 5000 }, 'shutdown took too long: exiting');
      process.exit(1);
    }, shutdownMs + 5000);
    node.close().then(
      () => {
        log.info('stopped');
        process.exit(code);
      },
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  void node.failed.then((e) => stop(`fatal: ${e.message}`, 1));
  return new Promise<number>(() => {}); // the process exits from `stop`
}
