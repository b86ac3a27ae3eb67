/**
 * `npm run cluster`: a local development cluster on loopback, all under one
 * data root — three clustered nats-server nodes with JetStream, the log's
 * key and an election authority key (generated once), sequencers (`urna
 * serve --nats ... --nats-replicas 3`, one leader by lease, the others
 * standbys) and read-only mirrors (`urna mirror`), each a child process with
 * its output prefixed by its name and also appended to `<root>/logs/NAME.log`.
 *
 * It waits (bounded) until every node answers /healthz and serves a signed
 * checkpoint (a standby or mirror has proven the leader's first one) and one
 * sequencer leads, prints where everything is, writes the same as JSON to
 * `<root>/cluster.json`, and prints `urna cluster: ready` (or `urna cluster:
 * NOT ready — why`). A node that dies is reported with its last output
 * lines; the rest keep running (kill things: that is what it is for). Lines
 * on stdin: `status`, `kill NAME`, `stop NAME`, `start NAME`, `help`,
 * `quit`. SIGINT/SIGTERM stops the urna nodes, then NATS, and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateSignerKey, parseSignerKey } from '../ledger/note.js';
import { UsageError } from '../services/cli/usage-error.js';
import {
  natsServerBinary,
  natsServerVersion,
  startNatsCluster,
  supportsSyncAlways,
  type NatsCluster,
} from './nats-cluster.js';
import { freePort, guardChild, isRunning, onLines, OutputTail, signalAndWait, sleep } from './processes.js';

export const URNA_BIN = fileURLToPath(new URL('../bin/urna.js', import.meta.url));

export const CLUSTER_USAGE = `npm run cluster -- [--data DIR] [--fresh] [--sequencers N] [--mirrors N]
                   [--origin NAME] [--timeout SECONDS] [--verbose]

A local development cluster on 127.0.0.1 (free ports): three nats-server
nodes clustered with JetStream, N sequencers (default 2; urna serve, one
leader by lease) and N mirrors (default 2; urna mirror), all under DIR
(default ./cluster-data; --fresh wipes it first). The log key and an
election authority key are generated once in DIR/keys. Waits at most
SECONDS (default 60) for every node's /healthz, then prints the cluster
(also in DIR/cluster.json). --verbose also prints every NATS log line
(always in DIR/logs). Lines on stdin: status, kill NAME, stop NAME,
start NAME, quit. Ctrl-C (or SIGTERM) stops everything.
`;

/** What the marker file in a data root says: this directory is ours to wipe with --fresh. */
const MARKER = '.urna-cluster';
const NAME_WIDTH = 8;

export interface ClusterOptions {
  dataDir: string;
  fresh: boolean;
  sequencers: number;
  mirrors: number;
  /** The log's origin (its key's name) when the key is generated. */
  origin: string;
  timeoutMs: number;
  verbose: boolean;
}

function count(text: string | undefined, flag: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max)
    throw new UsageError(`${flag} must be an integer from 0 to ${max}, got ${text}`);
  return Number(text);
}

/** Parses the command line; `'help'` for --help. Throws UsageError. */
export function parseClusterArgs(args: string[], cwd = process.cwd()): ClusterOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        data: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        sequencers: { type: 'string' },
        mirrors: { type: 'string' },
        origin: { type: 'string' },
        timeout: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values } = parsed;
  if (values.help) return 'help';
  if (values.data === '') throw new UsageError('--data must name a directory');
  const timeout = count(values.timeout, '--timeout', 60, 3600);
  if (timeout === 0) throw new UsageError('--timeout must be at least 1 second');
  const origin = values.origin ?? 'urna.localhost/log';
  if (!/^[\x21-\x7e]+$/.test(origin) || origin.includes('+'))
    throw new UsageError(`--origin must be printable ASCII without spaces or '+', got ${origin}`);
  return {
    dataDir: resolve(cwd, values.data ?? 'cluster-data'),
    fresh: values.fresh,
    sequencers: count(values.sequencers, '--sequencers', 2, 9),
    mirrors: count(values.mirrors, '--mirrors', 2, 9),
    origin,
    timeoutMs: timeout * 1000,
    verbose: values.verbose,
  };
}

/**
 * Reads the signer key in `file`, or generates one named `name` there first
 * (mode 0600, never overwriting; the same key format as `urna keygen`), and
 * writes its verifier key beside it (`.vkey`). Returns the verifier key.
 */
export async function ensureKey(
  file: string,
  name: string,
): Promise<{ verifierKey: string; created: boolean }> {
  let created = false;
  if (!existsSync(file)) {
    const { signerKey } = generateSignerKey(name);
    try {
      await writeFile(file, signerKey + '\n', { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const { verifierKey } = parseSignerKey((await readFile(file, 'utf8')).trim());
  await writeFile(file.replace(/\.key$/, '') + '.vkey', verifierKey + '\n');
  return { verifierKey, created };
}

/**
 * Makes `dir` the cluster's data root: refuses a non-empty directory that is
 * not one (so --fresh never wipes anything else), wipes it with `fresh`.
 */
export async function prepareDataRoot(dir: string, fresh: boolean): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (entries && entries.length > 0 && !entries.includes(MARKER))
    throw new UsageError(
      `${dir} is not empty and is not a cluster data root (no ${MARKER} in it): choose another --data`,
    );
  const pidFile = join(dir, 'cluster.pid');
  if (entries?.includes('cluster.pid')) {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid))
      throw new UsageError(`a cluster (pid ${pid}) is already running on ${dir}`);
  }
  if (fresh && entries) await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'keys'), { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeFile(join(dir, MARKER), 'a data root of `npm run cluster` (dev/cluster.ts)\n');
  await writeFile(pidFile, `${process.pid}\n`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A live pid that is not a cluster (pid reuse after a crash) does not count.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cluster');
  } catch {
    return true;
  }
}

type Kind = 'sequencer' | 'mirror';

interface UrnaNode {
  name: string;
  kind: Kind;
  url: string;
  dataDir: string;
  args: string[];
  proc: ChildProcess | null;
  exited: Promise<void>;
  stopping: boolean;
  tail: OutputTail;
}

interface Health {
  /** The status of GET /healthz (0: no answer). */
  status: number;
  /** The status of GET /checkpoint (0: no answer): 503 until the node holds a signed checkpoint. */
  checkpoint: number;
  role?: string;
  error?: string;
}

async function probe(url: string): Promise<Health> {
  try {
    const [res, checkpoint] = await Promise.all([
      fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }),
      fetch(`${url}/checkpoint`, { signal: AbortSignal.timeout(2000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        () => 0,
      ),
    ]);
    const body = (await res.json().catch(() => ({}))) as { role?: unknown; error?: unknown };
    return {
      status: res.status,
      checkpoint,
      ...(typeof body.role === 'string' ? { role: body.role } : {}),
      ...(typeof body.error === 'string' ? { error: body.error } : {}),
    };
  } catch (e) {
    return { status: 0, checkpoint: 0, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Writes one line of a named process's output, prefixed. */
function say(name: string, line: string, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${name.padEnd(NAME_WIDTH)}| ${line}\n`);
}

const note = (line: string) => say('cluster', line);

export async function runCluster(args: string[]): Promise<number> {
  let opts: ClusterOptions | 'help';
  try {
    opts = parseClusterArgs(args);
    if (opts === 'help') {
      process.stdout.write(CLUSTER_USAGE);
      return 0;
    }
    await prepareDataRoot(opts.dataDir, opts.fresh);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`npm run cluster: ${e.message}\n\n${CLUSTER_USAGE}`);
      return 2;
    }
    throw e;
  }
  return new DevCluster(opts).run();
}

class DevCluster {
  private nats: NatsCluster | null = null;
  private natsStart: Promise<NatsCluster> | null = null;
  private natsVersion = '';
  private syncAlways = false;
  private readonly nodes: UrnaNode[] = [];
  private readonly logs = new Map<string, WriteStream>();
  private logKey = '';
  private authorityKey = '';
  private shuttingDown = false;
  /** Whether the NATS cluster has formed (its warnings are worth printing from then on). */
  private natsUp = false;
  private done!: (code: number) => void;

  constructor(private readonly opts: ClusterOptions) {}

  private path(...parts: string[]): string {
    return join(this.opts.dataDir, ...parts);
  }

  private logFile(name: string): WriteStream {
    let w = this.logs.get(name);
    if (!w) {
      w = createWriteStream(this.path('logs', `${name}.log`), { flags: 'a' });
      w.on('error', () => {}); // a lost log line is not worth dying for
      this.logs.set(name, w);
    }
    return w;
  }

  async run(): Promise<number> {
    const finished = new Promise<number>((r) => (this.done = r));
    let firstSignalAt = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      // A Ctrl-C under `npm run` arrives twice at once (from the terminal and
      // forwarded by npm): only one that comes later means "now, harder".
      if (this.shuttingDown && Date.now() - firstSignalAt < 1000) return;
      if (this.shuttingDown) {
        note(`${sig} again: killing everything`);
        for (const n of this.nodes) if (isRunning(n.proc)) n.proc.kill('SIGKILL');
        for (const s of this.nats?.servers ?? []) void s.kill();
        this.done(130);
        return;
      }
      firstSignalAt = Date.now();
      note(`${sig}: stopping the urna nodes, then NATS (again to kill them)`);
      void this.shutdown().then(() => this.done(0));
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

    try {
      await this.start();
    } catch (e) {
      process.stderr.write(`npm run cluster: ${e instanceof Error ? e.message : String(e)}\n`);
      await this.shutdown();
      return 1;
    }
    if (!this.shuttingDown) this.readCommands();
    return finished;
  }

  private async start(): Promise<void> {
    const { opts } = this;
    const bin = natsServerBinary();
    const version = natsServerVersion(bin);
    this.natsVersion = version.join('.');
    this.syncAlways = supportsSyncAlways(version);

    const log = await ensureKey(this.path('keys', 'log.key'), opts.origin);
    const authority = await ensureKey(this.path('keys', 'authority.key'), `${opts.origin}/authority`);
    this.logKey = log.verifierKey;
    this.authorityKey = authority.verifierKey;
    note(`${log.created ? 'generated' : 'using'} log key ${this.path('keys', 'log.key')}`);
    note(`${authority.created ? 'generated' : 'using'} authority key ${this.path('keys', 'authority.key')}`);

    note(`starting 3 nats-server ${this.natsVersion} nodes (${bin})`);
    this.natsStart = startNatsCluster(3, {
      dir: this.path('nats'),
      clusterName: 'urna-dev',
      syncAlways: this.syncAlways,
      detached: true,
      onOutput: (name, text) => {
        this.logFile(name).write(text);
        for (const line of text.split('\n')) {
          // Route errors while the nodes find each other, and connection
          // errors while they stop, are expected: those go to the log file only.
          const problem = /\[(WRN|ERR|FTL)\]/.test(line) && this.natsUp && !this.shuttingDown;
          if (line && (opts.verbose || problem)) say(name, line);
        }
      },
      onExit: (name, code, signal, expected) => {
        if (expected || this.shuttingDown) return;
        const s = this.nats?.servers.find((x) => x.name === name);
        this.reportDeath(name, code, signal, s ? tailOf(s.output()).lastLines(15) : []);
      },
    });
    this.nats = await this.natsStart;
    if (this.shuttingDown) return;
    note(`NATS meta leader: ${await this.nats.waitForMetaLeader()}`);
    this.natsUp = true;

    const natsUrls = this.nats.urls.join(',');
    for (let i = 1; i <= opts.sequencers; i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const dataDir = this.path(`seq${i}`);
      this.nodes.push(
        this.node(`seq${i}`, 'sequencer', url, dataDir, [
          'serve',
          '--data',
          dataDir,
          '--listen',
          `127.0.0.1:${port}`,
          '--key',
          this.path('keys', 'log.key'),
          '--authority',
          this.authorityKey,
          '--nats',
          natsUrls,
          '--nats-replicas',
          '3',
          '--node-id',
          `seq${i}`,
          '--advertise',
          url,
        ]),
      );
    }
    for (let i = 1; i <= opts.mirrors; i++) {
      const port = await freePort();
      const dataDir = this.path(`mirror${i}`);
      this.nodes.push(
        this.node(`mirror${i}`, 'mirror', `http://127.0.0.1:${port}`, dataDir, [
          'mirror',
          '--data',
          dataDir,
          '--listen',
          `127.0.0.1:${port}`,
          '--log-key',
          this.logKey,
          '--nats',
          natsUrls,
          '--nats-replicas',
          '3',
        ]),
      );
    }
    if (this.shuttingDown) return;
    for (const n of this.nodes) this.launch(n);

    const problems = await this.waitReady(Date.now() + opts.timeoutMs);
    if (this.shuttingDown) return;
    await this.printStatus();
    if (problems.length === 0) note('urna cluster: ready');
    else note(`urna cluster: NOT ready — ${problems.join('; ')}`);
  }

  private node(name: string, kind: Kind, url: string, dataDir: string, args: string[]): UrnaNode {
    return {
      name,
      kind,
      url,
      dataDir,
      args,
      proc: null,
      exited: Promise.resolve(),
      stopping: false,
      tail: new OutputTail(),
    };
  }

  private launch(n: UrnaNode): void {
    n.stopping = false;
    const proc = spawn(process.execPath, [URNA_BIN, ...n.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches only this
      // script, which stops the urna nodes before NATS.
      detached: true,
    });
    n.proc = proc;
    guardChild(proc, n.dataDir);
    const log = this.logFile(n.name);
    log.write(`--- ${new Date().toISOString()} node ${URNA_BIN} ${n.args.join(' ')}\n`);
    const line = (l: string) => {
      n.tail.append(l + '\n');
      log.write(l + '\n');
      say(n.name, l);
    };
    onLines(proc.stdout!, line);
    onLines(proc.stderr!, line);
    n.exited = new Promise<void>((resolve) => {
      proc.once('error', (e) => {
        line(`cannot start: ${e.message}`);
        resolve();
      });
      proc.once('exit', (code, signal) => {
        // Let the last output lines arrive before reporting.
        setTimeout(() => {
          if (!n.stopping && !this.shuttingDown) this.reportDeath(n.name, code, signal, n.tail.lastLines(15));
          else note(`${n.name} stopped (${code ?? signal})`);
          resolve();
        }, 50);
      });
    });
  }

  private reportDeath(name: string, code: number | null, signal: string | null, lines: string[]): void {
    note(`${name} DIED (${signal ? `signal ${signal}` : `exit code ${code}`}); the rest keep running.`);
    if (lines.length) {
      note(`last output of ${name}:`);
      for (const l of lines) note(`  ${l}`);
    }
    note(`type "start ${name}" to start it again`);
  }

  /** Waits until every urna node answers /healthz 200 and one sequencer leads; returns what is still wrong. */
  private async waitReady(deadline: number): Promise<string[]> {
    for (;;) {
      const problems: string[] = [];
      const health = await Promise.all(this.nodes.map((n) => probe(n.url)));
      this.nodes.forEach((n, i) => {
        const h = health[i]!;
        if (!isRunning(n.proc)) problems.push(`${n.name} exited`);
        else if (h.status !== 200) problems.push(`${n.name} /healthz ${h.status || 'no answer'}`);
        else if (h.checkpoint !== 200) problems.push(`${n.name} /checkpoint ${h.checkpoint || 'no answer'}`);
      });
      const leaders = this.nodes.filter((n, i) => n.kind === 'sequencer' && health[i]!.role === 'leader');
      if (this.opts.sequencers > 0 && leaders.length !== 1)
        problems.push(`${leaders.length} sequencers report role leader (want 1)`);
      const allExited = this.nodes.length > 0 && this.nodes.every((n) => !isRunning(n.proc));
      if (problems.length === 0 || this.shuttingDown || allExited || Date.now() > deadline) return problems;
      await sleep(250);
    }
  }

  /** Probes everything and prints (and writes to cluster.json) where it is. */
  private async printStatus(): Promise<void> {
    const nats = await Promise.all(
      (this.nats?.servers ?? []).map(async (s) => ({
        name: s.name,
        url: s.url,
        monitorUrl: s.monitorUrl,
        pid: s.pid ?? null,
        running: s.running,
      })),
    );
    const health = await Promise.all(this.nodes.map((n) => probe(n.url)));
    const nodes = this.nodes.map((n, i) => {
      const h = health[i]!;
      return {
        name: n.name,
        kind: n.kind,
        url: n.url,
        dataDir: n.dataDir,
        pid: isRunning(n.proc) ? (n.proc.pid ?? null) : null,
        running: isRunning(n.proc),
        healthz: h.status,
        role: h.role ?? null,
      };
    });
    const leader = nodes.find((n) => n.kind === 'sequencer' && n.role === 'leader') ?? nodes[0];
    const state = {
      dataDir: this.opts.dataDir,
      natsVersion: this.natsVersion,
      syncAlways: this.syncAlways,
      nats,
      nodes,
      leader: leader?.kind === 'sequencer' ? leader.url : null,
      logKey: this.logKey,
      logKeyFile: this.path('keys', 'log.key'),
      authorityKey: this.authorityKey,
      authorityKeyFile: this.path('keys', 'authority.key'),
    };
    await writeFile(this.path('cluster.json'), JSON.stringify(state, null, 2) + '\n');

    const rows: string[][] = [['NATS', 'client URL', 'monitor URL', 'pid']];
    for (const s of nats) rows.push([s.name, s.url, s.monitorUrl, s.running ? String(s.pid) : 'DOWN']);
    rows.push([], ['urna', 'URL', 'role (/healthz)', 'pid']);
    for (const n of nodes) {
      const role = n.running
        ? n.healthz === 200
          ? (n.role ?? `${n.kind}?`)
          : `${n.role ?? n.kind}, /healthz ${n.healthz || 'no answer'}`
        : 'DOWN';
      rows.push([n.name, n.url, role, n.running ? String(n.pid) : '-']);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
    const out: string[] = ['', `urna dev cluster — data in ${this.opts.dataDir}`, ''];
    for (const r of rows)
      out.push(
        r.length
          ? '  ' +
              r
                .map((cell, c) => cell.padEnd(widths[c]!))
                .join('  ')
                .trimEnd()
          : '',
      );
    out.push(
      '',
      `  log verifier key        ${this.logKey}`,
      `  log key                 ${state.logKeyFile}`,
      `  authority verifier key  ${this.authorityKey}`,
      `  authority key           ${state.authorityKeyFile}`,
      `  logs                    ${this.path('logs')}/NAME.log`,
      `  durability              each node: LevelDB fsync per batch; journal: ` +
        (this.syncAlways
          ? `nats-server ${this.natsVersion} with sync_interval: always, fsynced on a majority of the 3 replicas before the acknowledgement`
          : `nats-server ${this.natsVersion}, acknowledged on a majority of the 3 replicas before fsync (no sync_interval: always before 2.10)`),
      '',
    );
    if (state.leader) {
      out.push(
        `try (${leader?.role === 'leader' ? 'the leader' : 'no leader yet; the first sequencer'}):`,
        `  npx urna demo --log ${state.leader} --authority-key ${state.authorityKeyFile} --districts 60 --voters 300`,
        `  curl -s ${state.leader}/checkpoint`,
      );
      const mirror = nodes.find((n) => n.kind === 'mirror');
      if (mirror) out.push(`  curl -s ${mirror.url}/checkpoint`);
      out.push('');
    }
    out.push(
      'commands (type, then Enter): status | kill NAME | stop NAME | start NAME | help | quit',
      'Ctrl-C stops everything.',
      '',
    );
    process.stdout.write(out.join('\n') + '\n');
  }

  private readCommands(): void {
    if (process.stdin.destroyed) return;
    const rl = createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (text) => void this.command(text.trim()));
    rl.on('error', () => {});
  }

  private async command(text: string): Promise<void> {
    const [verb, name] = text.split(/\s+/);
    if (!verb || this.shuttingDown) return;
    try {
      if (verb === 'status' || verb === 's') return await this.printStatus();
      if (verb === 'quit' || verb === 'exit') {
        note('quit: stopping the urna nodes, then NATS');
        await this.shutdown();
        return this.done(0);
      }
      if (verb === 'help' || !name || !['kill', 'stop', 'start', 'restart'].includes(verb)) {
        note('commands: status | kill NAME | stop NAME | start NAME | help | quit');
        note(
          `names: ${[...(this.nats?.servers ?? []).map((s) => s.name), ...this.nodes.map((n) => n.name)].join(' ')}`,
        );
        return;
      }
      const server = this.nats?.servers.find((s) => s.name === name);
      const node = this.nodes.find((n) => n.name === name);
      if (server) {
        if (verb === 'kill') await server.kill();
        else if (verb === 'stop') await server.stop();
        else await server.restart();
        note(`${name}: ${verb} done (${server.running ? `running, pid ${server.pid}` : 'down'})`);
      } else if (node) {
        if (verb === 'kill' || verb === 'stop' || isRunning(node.proc)) {
          node.stopping = true;
          await signalAndWait(node.proc, node.exited, verb === 'kill' ? 'SIGKILL' : 'SIGTERM');
        }
        if (verb === 'start' || verb === 'restart') {
          this.launch(node);
          const deadline = Date.now() + this.opts.timeoutMs;
          let h = await probe(node.url);
          while (h.status !== 200 && isRunning(node.proc) && Date.now() < deadline) {
            await sleep(250);
            h = await probe(node.url);
          }
          note(
            h.status === 200
              ? `${name} is up: ${node.url} (${h.role ?? node.kind})`
              : `${name} did not answer /healthz in time`,
          );
        }
      } else {
        note(`no node named ${name}`);
      }
    } catch (e) {
      note(`${text}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Stops the urna nodes (SIGTERM, SIGKILL after 10 s), then NATS; removes the pid file. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const n of this.nodes) n.stopping = true;
    await Promise.all(this.nodes.map((n) => signalAndWait(n.proc, n.exited, 'SIGTERM')));
    // NATS may still be starting (a signal during start-up): wait for it, then stop it.
    const nats = this.nats ?? (await this.natsStart?.catch(() => null));
    await nats?.close();
    for (const w of this.logs.values()) w.end();
    await rm(this.path('cluster.pid'), { force: true });
    note('urna cluster: stopped');
  }
}

function tailOf(text: string): OutputTail {
  const t = new OutputTail();
  t.append(text);
  return t;
}
