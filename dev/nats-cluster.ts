/**
 * Real `nats-server` processes with JetStream on loopback — one node, or a
 * cluster — each with its own configuration file and store directory. Used
 * by `npm run cluster` (dev/cluster.ts) and by the slow tests
 * (test/helpers/nats.ts).
 *
 * The binary is found through $NATS_SERVER, then $PATH, then
 * /usr/sbin/nats-server (Debian's package; test/setup-system.sh installs
 * it). Every wait is bounded. A node lives in `dir` when given (created if
 * absent, kept: its store survives restarts), else in a new temporary
 * directory that `dispose()` removes. Every started process is killed
 * (SIGKILL) when this process exits, even if nobody called `stop()`
 * (dev/processes.ts `guardChild`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import {
  freePort,
  guardChild,
  isRunning,
  OutputTail,
  signalAndWait,
  sleep,
  tcpReachable,
} from './processes.js';

export { freePort } from './processes.js';

/** How long a node may take to print "Server is ready" and accept connections. */
const READY_TIMEOUT_MS = 20_000;
/** How long a graceful stop may take before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a cluster may take to elect its JetStream meta leader. */
const META_LEADER_TIMEOUT_MS = 30_000;

export interface NatsServerOptions {
  /** `server_name` (unique within a cluster). Default `n1`. */
  name?: string;
  /** Client port; default a free loopback port. */
  port?: number;
  /** Monitoring (HTTP) port; default a free loopback port. */
  httpPort?: number;
  /** `max_payload` in bytes (server default 1 MiB). */
  maxPayload?: number;
  /** Cluster block: the node's route port and the other nodes' route ports. */
  cluster?: { name: string; port: number; routes: number[] };
  /**
   * JetStream `sync_interval: always` (fsync before every acknowledgement).
   * nats-server 2.10.0 and later only (see `supportsSyncAlways`).
   */
  syncAlways?: boolean;
  /** Extra configuration lines appended verbatim. */
  extraConfig?: string;
  /** The node's directory (config file and store), kept; default a new temporary one, removed by dispose(). */
  dir?: string;
  /**
   * Run the server in its own process group, so that a Ctrl-C in a terminal
   * reaches only this process, which stops it in its own time.
   */
  detached?: boolean;
  /** Called with the server's output as it comes (both streams). */
  onOutput?: (text: string) => void;
  /** Called when the process exits; `expected` when stop(), kill(), restart() or dispose() ended it. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null, expected: boolean) => void;
}

export interface NatsServer {
  readonly name: string;
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` (monitoring: /varz, /jsz, /healthz). */
  readonly monitorUrl: string;
  /** The directory holding the config file and the JetStream store. */
  readonly dir: string;
  readonly storeDir: string;
  readonly configFile: string;
  /** The process id while running. */
  readonly pid: number | undefined;
  /** Whether the process is running. */
  readonly running: boolean;
  /** The process's output so far (both streams, the last 64 KiB), for failure messages. */
  output(): string;
  /** SIGTERM, and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** kill -9, and wait for the exit. */
  kill(): Promise<void>;
  /** Starts the node again with the same configuration and store (stops it first if running). */
  restart(): Promise<void>;
  /** GETs a monitoring endpoint (`/jsz?streams=true`, `/healthz`, ...) as JSON. */
  monitor<T = unknown>(path: string): Promise<T>;
  /** Kills the node and removes its directory if it is a temporary one. */
  dispose(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** The client URLs of every node (pass them all to `connect`). */
  readonly urls: string[];
  /** Connects to the cluster (to `servers` if given, else to every node). */
  connect(opts?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  /** Waits until every running node reports the same JetStream meta leader. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Stops every node gracefully (SIGTERM, SIGKILL after 10 s); keeps their directories. */
  close(): Promise<void>;
  /** Kills every node and removes their temporary directories. */
  stop(): Promise<void>;
}

/** The nats-server binary: $NATS_SERVER, else `nats-server` on $PATH, else /usr/sbin/nats-server. */
export function natsServerBinary(): string {
  const candidates = [
    ...(process.env.NATS_SERVER ? [process.env.NATS_SERVER] : []),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'nats-server')),
    '/usr/sbin/nats-server',
  ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'nats-server not found (looked at $NATS_SERVER, $PATH and /usr/sbin/nats-server): ' +
      'run `apt-get install -y nats-server` (test/setup-system.sh does), or set NATS_SERVER=/path/to/nats-server',
  );
}

/** The binary's version as [major, minor, patch] (`nats-server --version`). */
export function natsServerVersion(bin = natsServerBinary()): [number, number, number] {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (!m) throw new Error(`cannot tell the version of ${bin}: ${r.error?.message ?? r.stdout + r.stderr}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Whether a nats-server version has JetStream `sync_interval: always` (2.10.0 and later). */
export function supportsSyncAlways([major, minor]: readonly number[]): boolean {
  return major! > 2 || (major === 2 && minor! >= 10);
}

function configText(
  o: Required<Pick<NatsServerOptions, 'name' | 'port' | 'httpPort'>> & NatsServerOptions,
  storeDir: string,
) {
  const lines = [
    `server_name: ${JSON.stringify(o.name)}`,
    `listen: "127.0.0.1:${o.port}"`,
    `http: "127.0.0.1:${o.httpPort}"`,
    ...(o.maxPayload ? [`max_payload: ${o.maxPayload}`] : []),
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    '  max_memory_store: 268435456',
    '  max_file_store: 4294967296',
    ...(o.syncAlways ? ['  sync_interval: always'] : []),
    '}',
  ];
  if (o.cluster) {
    lines.push(
      'cluster {',
      `  name: ${JSON.stringify(o.cluster.name)}`,
      `  listen: "127.0.0.1:${o.cluster.port}"`,
      `  routes: [${o.cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}]`,
      '}',
    );
  }
  if (o.extraConfig) lines.push(o.extraConfig);
  return lines.join('\n') + '\n';
}

/** Starts one nats-server with JetStream and waits until it accepts client connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerBinary();
  const name = opts.name ?? 'n1';
  const port = opts.port ?? (await freePort());
  const httpPort = opts.httpPort ?? (await freePort());
  const temporary = opts.dir === undefined;
  const dir =
    opts.dir === undefined ? await mkdtemp(join(tmpdir(), `urna-nats-${name}-`)) : resolve(opts.dir);
  if (!temporary) await mkdir(dir, { recursive: true });
  const storeDir = join(dir, 'jetstream');
  const configFile = join(dir, 'nats.conf');
  await writeFile(configFile, configText({ ...opts, name, port, httpPort }, storeDir));

  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  const out = new OutputTail();
  const append = (c: Buffer) => {
    const text = c.toString();
    out.append(text);
    opts.onOutput?.(text);
  };

  const launch = async () => {
    stopping = false;
    const p = spawn(bin, ['-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.detached ? { detached: true } : {}),
    });
    proc = p;
    guardChild(p, configFile, temporary ? dir : undefined);
    let code: string | null = null;
    exited = new Promise<void>((resolve) =>
      p.once('exit', (c, sig) => {
        code = `${c ?? sig}`;
        opts.onExit?.(c, sig, stopping);
        resolve();
      }),
    );
    // Readiness of this launch only (the output of an earlier one says "ready" too).
    let recent = '';
    let ready = false;
    const onData = (c: Buffer) => {
      append(c);
      recent = (recent + c.toString()).slice(-4096);
      if (/Server is ready/.test(recent)) ready = true;
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!ready || !(await tcpReachable(port))) {
      if (code !== null) throw new Error(`nats-server ${name} exited (${code}) before it was ready:\n${out}`);
      if (Date.now() > deadline) {
        stopping = true;
        p.kill('SIGKILL');
        throw new Error(`nats-server ${name} not ready in ${READY_TIMEOUT_MS} ms:\n${out}`);
      }
      await sleep(25);
    }
  };

  const signal = async (sig: NodeJS.Signals) => {
    if (!isRunning(proc)) return;
    stopping = true;
    await signalAndWait(proc, exited, sig, STOP_TIMEOUT_MS);
  };

  const server: NatsServer = {
    name,
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${httpPort}`,
    dir,
    storeDir,
    configFile,
    get pid() {
      return isRunning(proc) ? proc.pid : undefined;
    },
    get running() {
      return isRunning(proc);
    },
    output: () => out.toString(),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      out.append(`\n--- restart ---\n`);
      await launch();
    },
    async monitor<T>(path: string): Promise<T> {
      const res = await fetch(`${server.monitorUrl}${path}`, { signal: AbortSignal.timeout(5000) });
      return (await res.json()) as T;
    },
    async dispose() {
      await signal('SIGKILL');
      if (temporary) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (e) {
    await server.dispose();
    throw e;
  }
  return server;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

export interface NatsClusterOptions extends Pick<
  NatsServerOptions,
  'maxPayload' | 'syncAlways' | 'detached'
> {
  /** The cluster's name; default `urna-<pid>`. Keep it stable for a store that outlives this process. */
  clusterName?: string;
  /** A root directory: node `nI` lives in `<dir>/nI` (kept). Default: temporary directories. */
  dir?: string;
  /** Called with each node's output as it comes. */
  onOutput?: (node: string, text: string) => void;
  /** Called when a node's process exits (see NatsServerOptions.onExit). */
  onExit?: (node: string, code: number | null, signal: NodeJS.Signals | null, expected: boolean) => void;
}

/**
 * Starts `n` nodes (`n1`..`nN`) clustered on loopback, each with JetStream
 * and its own store, and waits until they agree on a JetStream meta leader.
 */
export async function startNatsCluster(n = 3, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const routePorts: number[] = [];
  for (let i = 0; i < n; i++) routePorts.push(await freePort());
  const clusterName = opts.clusterName ?? `urna-${process.pid}`;
  const started = await Promise.allSettled(
    routePorts.map((port, i) => {
      const name = `n${i + 1}`;
      const { onOutput, onExit } = opts;
      return startNatsServer({
        name,
        ...(opts.maxPayload ? { maxPayload: opts.maxPayload } : {}),
        ...(opts.syncAlways ? { syncAlways: true } : {}),
        ...(opts.detached ? { detached: true } : {}),
        ...(opts.dir !== undefined ? { dir: join(opts.dir, name) } : {}),
        ...(onOutput ? { onOutput: (text: string) => onOutput(name, text) } : {}),
        ...(onExit ? { onExit: (c, s, e) => onExit(name, c, s, e) } : {}),
        cluster: { name: clusterName, port, routes: routePorts.filter((p) => p !== port) },
      } satisfies NatsServerOptions);
    }),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    // A failed start must not leave the other nodes behind.
    await Promise.all(servers.map((s) => s.dispose()));
    throw failed.reason;
  }
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url),
    connect: (o = {}) =>
      connect({
        servers: servers.map((s) => s.url),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 100,
        timeout: 5000,
        ...o,
      }),
    async waitForMetaLeader(timeoutMs = META_LEADER_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = servers.filter((s) => s.running);
        const leaders = await Promise.all(
          running.map((s) =>
            s.monitor<Jsz>('/jsz').then(
              (j) => j.meta_cluster?.leader ?? '',
              () => '',
            ),
          ),
        );
        const leader = leaders[0] ?? '';
        if (leader && leaders.every((l) => l === leader)) return leader;
        if (Date.now() > deadline) {
          throw new Error(
            `no JetStream meta leader in ${timeoutMs} ms (${JSON.stringify(leaders)}):\n` +
              servers.map((s) => `--- ${s.name}\n${s.output()}`).join('\n'),
          );
        }
        await sleep(100);
      }
    },
    async close() {
      await Promise.all(servers.map((s) => s.stop()));
    },
    async stop() {
      await Promise.all(servers.map((s) => s.dispose()));
    },
  };
  try {
    await cluster.waitForMetaLeader();
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
