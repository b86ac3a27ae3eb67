/**
 * Test helper: real `nats-server` processes with JetStream on loopback — one
 * node, or a three-node cluster — each with its own temporary store
 * directory and configuration file.
 *
 * The binary is found through $NATS_SERVER, then $PATH, then
 * /usr/sbin/nats-server (Debian's package; test/setup-system.sh installs
 * it). Every wait is bounded. Every started process is registered and
 * killed (SIGKILL) when the test process exits, even if a test forgets to
 * call `stop()`; tests should still call it (afterAll) to remove the store
 * directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';

/** How long a node may take to print "Server is ready" and accept connections. */
const READY_TIMEOUT_MS = 20_000;
/** How long a graceful stop may take before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a cluster may take to elect its JetStream meta leader. */
const META_LEADER_TIMEOUT_MS = 30_000;
/** The most server output kept for failure messages. */
const MAX_OUTPUT = 64 * 1024;

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
  /** Extra configuration lines appended verbatim. */
  extraConfig?: string;
}

export interface NatsServer {
  readonly name: string;
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` (monitoring: /varz, /jsz, /healthz). */
  readonly monitorUrl: string;
  /** The temporary directory holding the config file and the JetStream store. */
  readonly dir: string;
  readonly storeDir: string;
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
  /** Kills the node and removes its directory. */
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
  /** Kills every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Kills a server whose test process died without cleaning up (vitest ends
 * its workers without running 'exit' handlers): polls every second while
 * both the test process ($1) and the server ($2) live, then SIGKILLs the
 * server if it still runs — only if its command line still names our config
 * file in $3, so a reused pid is never hit — and removes its directory $3.
 */
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
if kill -0 "$2" 2>/dev/null && tr '\\0' ' ' < "/proc/$2/cmdline" | grep -qF -- "$3/nats.conf"; then
  kill -9 "$2"; sleep 1; rm -rf -- "$3"
fi
`;

function watch(proc: ChildProcess, dir: string): void {
  if (process.platform !== 'linux' || proc.pid === undefined) return;
  const w = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'urna-nats-watchdog', String(process.pid), String(proc.pid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  w.on('error', () => {}); // best effort
  w.unref();
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function register(proc: ChildProcess): void {
  live.add(proc);
  void new Promise<void>((resolve) => proc.once('exit', () => resolve())).then(() => live.delete(proc));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
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

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
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

function tcpReachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts one nats-server with JetStream and waits until it accepts client connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerBinary();
  const name = opts.name ?? 'n1';
  const port = opts.port ?? (await freePort());
  const httpPort = opts.httpPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), `urna-nats-${name}-`));
  const storeDir = join(dir, 'jetstream');
  const configFile = join(dir, 'nats.conf');
  await writeFile(configFile, configText({ ...opts, name, port, httpPort }, storeDir));

  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let out = '';
  const append = (c: Buffer) => {
    out += c.toString();
    if (out.length > MAX_OUTPUT) out = out.slice(out.length - MAX_OUTPUT);
  };

  const launch = async () => {
    const p = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    register(p);
    watch(p, dir);
    let code: string | null = null;
    exited = new Promise<void>((resolve) =>
      p.once('exit', (c, sig) => {
        code = `${c ?? sig}`;
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
        p.kill('SIGKILL');
        throw new Error(`nats-server ${name} not ready in ${READY_TIMEOUT_MS} ms:\n${out}`);
      }
      await sleep(25);
    }
  };

  const isRunning = () => proc !== null && proc.exitCode === null && proc.signalCode === null;
  const signal = async (sig: NodeJS.Signals) => {
    if (!isRunning()) return;
    proc!.kill(sig);
    const t = setTimeout(() => proc?.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(t);
  };

  const server: NatsServer = {
    name,
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${httpPort}`,
    dir,
    storeDir,
    get running() {
      return isRunning();
    },
    output: () => out,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      out += `\n--- restart ---\n`;
      await launch();
    },
    async monitor<T>(path: string): Promise<T> {
      const res = await fetch(`${server.monitorUrl}${path}`, { signal: AbortSignal.timeout(5000) });
      return (await res.json()) as T;
    },
    async dispose() {
      await signal('SIGKILL');
      await rm(dir, { recursive: true, force: true });
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

/**
 * Starts `n` nodes clustered on loopback, each with JetStream and its own
 * store, and waits until they agree on a JetStream meta leader.
 */
export async function startNatsCluster(n = 3, opts: Pick<NatsServerOptions, 'maxPayload'> = {}) {
  const routePorts: number[] = [];
  for (let i = 0; i < n; i++) routePorts.push(await freePort());
  const clusterName = `urna-${process.pid}`;
  const started = await Promise.allSettled(
    routePorts.map((port, i) =>
      startNatsServer({
        ...opts,
        name: `n${i + 1}`,
        cluster: { name: clusterName, port, routes: routePorts.filter((p) => p !== port) },
      }),
    ),
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
