/**
 * docker-compose.yml cannot run here (no Docker engine), so this checks it
 * without Docker, reading it with a minimal YAML reader (test/helpers/
 * compose-yaml.ts):
 *  - the single-node `log` service (no profile): its `urna serve` command
 *    runs with the same arguments and environment, its data volume mapped to
 *    a temporary directory and its listen address to a free loopback port;
 *  - the `cluster` profile: the services and how they depend on each other,
 *    volumes and ports; the NATS config files (they exist, `sync_interval:
 *    always`, routes naming the three NATS services, the ports the other
 *    services use) and that nats-server accepts them (`nats-server -t`); that
 *    the urna commands use only flags their command descriptions list
 *    (services/cli/commands.ts); and then it runs the profile's urna
 *    commands — the one-shot `keys`, two sequencers, two mirrors — through
 *    sh as Compose would, volumes mapped to temporary directories, ports to
 *    free ones and the NATS hostnames to a local three-node cluster
 *    (test/helpers/nats.ts): all answer /healthz and serve a checkpoint, one
 *    sequencer leads.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../ledger/note.js';
import { findCommand } from '../../services/cli/commands.js';
import { interpolate, readYaml, shellWords, type YamlValue } from '../helpers/compose-yaml.js';
import { tempDir } from '../helpers/log.js';
import {
  freePort,
  natsServerBinary,
  natsServerVersion,
  startNatsCluster,
  supportsSyncAlways,
  type NatsCluster,
} from '../helpers/nats.js';
import { startServer, URNA_BIN } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_TEXT = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');

interface Service {
  image?: string;
  command?: string | string[];
  profiles?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
}

const COMPOSE = readYaml(COMPOSE_TEXT) as unknown as {
  services: Record<string, Service>;
  volumes: Record<string, YamlValue>;
};
const SERVICES = COMPOSE.services;
const NATS = ['nats-1', 'nats-2', 'nats-3'];
const SEQUENCERS = ['seq1', 'seq2'];
const MIRRORS = ['mirror1', 'mirror2'];
const CLUSTER = [...NATS, 'keys', ...SEQUENCERS, ...MIRRORS];

const inProfile = (name: string, profile: string) => (SERVICES[name]!.profiles ?? []).includes(profile);

/** A service's environment with Compose's defaults (`${NAME:-default}`) applied. */
function environment(s: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
}

/** The shell script of a `sh -c '...'` command, interpolated as Compose does. */
function script(s: Service): string {
  expect(typeof s.command).toBe('string');
  const words = shellWords(interpolate(s.command as string));
  expect(words.slice(0, 2)).toEqual(['sh', '-c']);
  expect(words).toHaveLength(3);
  return words[2]!;
}

/** The `node bin/urna.js SUB ARGS...` invocations in a shell script: [sub, ...args]. */
function urnaInvocations(sh: string): string[][] {
  const words = shellWords(sh);
  const out: string[][] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== 'node' || words[i + 1] !== 'bin/urna.js') continue;
    const args: string[] = [];
    for (let j = i + 2; j < words.length; j++) {
      if (/^(&&|\|\||;|>|>>|<|\|)$/.test(words[j]!) || words[j]!.endsWith(';')) break;
      args.push(words[j]!);
    }
    out.push(args);
  }
  return out;
}

/** The value of `--flag` in an argument list. */
function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * The command an `urna` argument list names (its one- or two-word name,
 * services/cli/commands.ts) and its flags as `--name` strings; null if none.
 */
function commandFlags(args: string[]): { name: string; flags: Set<string> } | null {
  const found = findCommand(args);
  if (!found || !('command' in found)) return null;
  return { name: found.command.name, flags: new Set(found.command.flags.map((f) => `--${f.name}`)) };
}

/** A NATS config file's top-level and block values we check (one level of blocks). */
function natsConfig(text: string) {
  const noComments = text.replace(/#.*$/gm, '');
  const blockOf = (name: string) =>
    new RegExp(`^${name}\\s*\\{([\\s\\S]*?)^\\}`, 'm').exec(noComments)?.[1] ?? '';
  const field = (body: string, name: string) =>
    new RegExp(`^\\s*${name}\\s*[:=]\\s*"?([^"\\s]+)"?\\s*$`, 'm').exec(body)?.[1];
  const top = noComments.replace(/^\w+\s*\{[\s\S]*?^\}/gm, '');
  const js = blockOf('jetstream');
  const cluster = blockOf('cluster');
  return {
    serverName: field(top, 'server_name'),
    listen: field(top, 'listen'),
    http: field(top, 'http'),
    storeDir: field(js, 'store_dir'),
    syncInterval: field(js, 'sync_interval'),
    clusterName: field(cluster, 'name'),
    clusterListen: field(cluster, 'listen'),
    routes: [...cluster.matchAll(/nats-route:\/\/([\w.-]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`),
  };
}

/** The compose-relative config file a NATS service mounts at /etc/nats/nats.conf. */
function natsConfigFile(name: string): string {
  const mount = (SERVICES[name]!.volumes ?? []).find((v) => v.split(':')[1] === '/etc/nats/nats.conf');
  if (!mount) throw new Error(`${name} mounts no /etc/nats/nats.conf`);
  return join(ROOT, mount.split(':')[0]!);
}

describe('docker-compose.yml', () => {
  it('the single-node log service (no profile) starts and answers /healthz', async () => {
    const plain = Object.keys(SERVICES).filter((n) => !SERVICES[n]!.profiles);
    expect(plain).toEqual(['log']);
    const log = SERVICES.log!;
    const env = environment(log);
    const invocations = urnaInvocations(script(log));
    expect(invocations.map((a) => a[0])).toEqual(['serve']);
    const { dir, cleanup } = await tempDir('urna-compose-');
    try {
      const mapped = invocations[0]!
        .slice(1)
        .map((a) => (a.startsWith('/data') ? dir + a.slice('/data'.length) : a))
        .map((a) => (/^0\.0\.0\.0:\d+$/.test(a) ? '127.0.0.1:0' : a));
      const listen = mapped.indexOf('--listen');
      if (listen >= 0) mapped.splice(listen, 2); // startServer picks the port
      const server = await startServer(mapped, env);
      try {
        const res = await fetch(`${server.url}/healthz`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { origin: string }).origin).toBe(env['URNA_ORIGIN']);
      } finally {
        await server.stop();
      }
    } finally {
      await cleanup();
    }
  });

  it('the cluster profile: NATS nodes, keys, sequencers and mirrors wired coherently', () => {
    expect(Object.keys(SERVICES).filter((n) => inProfile(n, 'cluster'))).toEqual(CLUSTER);
    const declared = new Set(Object.keys(COMPOSE.volumes));
    const hostPorts = new Set<string>();
    for (const name of CLUSTER) {
      const s = SERVICES[name]!;
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (!src.startsWith('.') && !src.startsWith('/'))
          expect(declared, `${name}: volume ${src}`).toContain(src);
      }
      for (const p of s.ports ?? []) {
        const host = p.split(':').slice(0, -1).join(':');
        expect(host, `${name}: ${p} on loopback only`).toMatch(/^127\.0\.0\.1:\d+$/);
        expect(hostPorts, `${name}: host port ${host} used twice`).not.toContain(host);
        hostPorts.add(host);
      }
    }

    // NATS: an image with sync_interval: always (2.10+), one config file each.
    const configs = NATS.map((name) => {
      const s = SERVICES[name]!;
      const version = /^nats:(\d+)\.(\d+)/.exec(s.image ?? '');
      expect(version, `${name} image ${s.image}`).not.toBeNull();
      expect(supportsSyncAlways([Number(version![1]), Number(version![2])]), `${name} image ${s.image}`).toBe(
        true,
      );
      expect(s.command).toEqual(['--config', '/etc/nats/nats.conf']);
      const file = natsConfigFile(name);
      expect(existsSync(file), file).toBe(true);
      const c = natsConfig(readFileSync(file, 'utf8'));
      expect(c.serverName).toBe(name);
      expect(c.syncInterval).toBe('always');
      // The store is in the service's named volume.
      const volume = (s.volumes ?? []).find(
        (v) => !v.startsWith('.') && c.storeDir?.startsWith(v.split(':')[1]!),
      );
      expect(volume, `${name}: store_dir ${c.storeDir} in a named volume`).toBeDefined();
      // The healthcheck asks the monitoring port.
      expect(s.healthcheck?.test?.join(' ')).toContain(`127.0.0.1:${c.http!.split(':').pop()}/healthz`);
      return c;
    });
    const routePort = configs[0]!.clusterListen!.split(':').pop();
    const clientPort = configs[0]!.listen!.split(':').pop();
    for (const c of configs) {
      expect(c.clusterName).toBe(configs[0]!.clusterName);
      expect(c.clusterListen!.split(':').pop()).toBe(routePort);
      expect(c.listen!.split(':').pop()).toBe(clientPort);
      expect([...c.routes].sort()).toEqual(NATS.map((n) => `${n}:${routePort}`));
    }

    // keys: one-shot, generates the log key and the authority key.
    const keys = urnaInvocations(script(SERVICES.keys!));
    expect(keys.map((a) => a[0])).toEqual(['keygen', 'keygen']);

    // Sequencers and mirrors: after keys and healthy NATS nodes, with a healthcheck, R3 journal on all nodes.
    const nodeIds = new Set<string>();
    for (const name of [...SEQUENCERS, ...MIRRORS]) {
      const s = SERVICES[name]!;
      expect(s.depends_on?.keys?.condition).toBe('service_completed_successfully');
      for (const n of NATS) expect(s.depends_on?.[n]?.condition, `${name} → ${n}`).toBe('service_healthy');
      expect(s.healthcheck?.test?.join(' ')).toContain('/healthz');
      const inv = urnaInvocations(script(s));
      expect(inv).toHaveLength(1);
      const args = inv[0]!;
      expect(args[0]).toBe(SEQUENCERS.includes(name) ? 'serve' : 'mirror');
      expect(flag(args, '--nats')!.split(',')).toEqual(NATS.map((n) => `nats://${n}:${clientPort}`));
      expect(flag(args, '--nats-replicas')).toBe('3');
      expect(flag(args, '--listen')).toBe('0.0.0.0:8080');
      expect(s.ports).toEqual([expect.stringMatching(/:8080$/)]);
      const mounts = (s.volumes ?? []).map((v) => v.split(':')[1]);
      if (SEQUENCERS.includes(name)) {
        const id = flag(args, '--node-id')!;
        expect(id).toBe(name);
        expect(nodeIds).not.toContain(id);
        nodeIds.add(id);
        // Submitters are pointed to the host port this sequencer is published on.
        const host = s.ports![0]!.split(':').slice(0, -1).join(':');
        expect(flag(args, '--advertise')).toBe(`http://${host}`);
        expect(flag(args, '--key')).toBe('/keys/log.key');
        expect(mounts).toContain('/keys');
      } else {
        // A mirror holds no signing key.
        expect(mounts).not.toContain('/keys');
        expect(mounts).not.toContain('/authority');
      }
    }
  });

  it("nats-server accepts each of the cluster profile's NATS config files (nats-server -t)", async () => {
    const bin = natsServerBinary();
    const version = natsServerVersion(bin);
    const { dir, cleanup } = await tempDir('urna-compose-nats-');
    try {
      for (const name of NATS) {
        let text = readFileSync(natsConfigFile(name), 'utf8').replace(
          /store_dir:.*$/m,
          `store_dir: ${JSON.stringify(join(dir, name))}`,
        );
        // The local binary may predate sync_interval (Debian's 2.9.10): check the rest.
        if (!supportsSyncAlways(version)) text = text.replace(/^\s*sync_interval:.*$/m, '');
        const file = join(dir, `${name}.conf`);
        await writeFile(file, text);
        const r = spawnSync(bin, ['-t', '-c', file], { encoding: 'utf8', timeout: 10_000 });
        expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    } finally {
      await cleanup();
    }
  });

  it('the urna commands use only flags their command descriptions list', () => {
    for (const name of Object.keys(SERVICES)) {
      const s = SERVICES[name]!;
      if (typeof s.command !== 'string') continue;
      for (const args of urnaInvocations(script(s))) {
        const command = commandFlags(args);
        expect(command, `${name}: urna ${args.join(' ')} names a command`).not.toBeNull();
        for (const a of args.filter((x) => x.startsWith('--')))
          expect(command!.flags, `${name}: urna ${command!.name} ${a}`).toContain(a);
      }
    }
  });

  describe("the cluster profile's urna commands against a local 3-node NATS cluster", () => {
    let nats: NatsCluster | undefined;
    const procs: { name: string; proc: ChildProcess; out: () => string; exited: Promise<unknown> }[] = [];
    let cleanupDir: (() => Promise<void>) | undefined;

    afterAll(async () => {
      for (const p of procs) {
        try {
          process.kill(-p.proc.pid!, 'SIGTERM'); // its process group: sh and urna
        } catch {
          // gone
        }
      }
      await Promise.all(procs.map((p) => p.exited));
      await nats?.stop();
      await cleanupDir?.();
    });

    it('keys, two sequencers (one leads) and two mirrors all answer /healthz', async () => {
      nats = await startNatsCluster(3);
      const { dir, cleanup } = await tempDir('urna-compose-cluster-');
      cleanupDir = cleanup;

      // Published host ports → free local ports; named volumes → directories.
      const ports = new Map<string, number>();
      for (const name of CLUSTER)
        for (const p of SERVICES[name]!.ports ?? [])
          ports.set(p.split(':').slice(0, -1).join(':'), await freePort());
      const volumeDir = async (volume: string) => {
        const d = join(dir, volume);
        await mkdir(d, { recursive: true });
        return d;
      };

      /** The service's shell script with its paths, ports and NATS hosts mapped to local ones. */
      const mapped = async (name: string): Promise<{ sh: string; listen?: string }> => {
        const s = SERVICES[name]!;
        let sh = script(s).replace(/npm ci --no-audit --no-fund &&\s*/, ''); // node_modules is there
        const mounts: [string, string][] = [];
        for (const v of s.volumes ?? []) {
          const [src, dst] = v.split(':') as [string, string];
          if (src.startsWith('.') || src === 'node-modules') continue; // the repository itself
          mounts.push([dst, await volumeDir(src)]);
        }
        mounts.sort((a, b) => b[0].length - a[0].length);
        for (const [dst, local] of mounts)
          sh = sh.replace(new RegExp(`(^|[\\s'"=(])${dst}(?=[/\\s'";)]|$)`, 'g'), `$1${local}`);
        for (const [host, port] of ports) sh = sh.split(host).join(`127.0.0.1:${port}`);
        let listen: string | undefined;
        const published = s.ports?.[0]?.split(':').slice(0, -1).join(':');
        if (published) {
          listen = `127.0.0.1:${ports.get(published)}`;
          sh = sh.replace(/0\.0\.0\.0:8080/g, listen);
        }
        NATS.forEach((n, i) => (sh = sh.split(`nats://${n}:4222`).join(nats!.servers[i]!.url)));
        sh = sh.replace(/\bnode bin\/urna\.js\b/g, `'${process.execPath}' '${URNA_BIN}'`);
        expect(sh, name).not.toMatch(/nats-\d|0\.0\.0\.0/);
        return listen === undefined ? { sh } : { sh, listen };
      };

      const run = async (name: string) => {
        const { sh, listen } = await mapped(name);
        const proc = spawn('/bin/sh', ['-c', sh], {
          cwd: ROOT,
          env: { ...process.env, ...environment(SERVICES[name]!) },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        let out = '';
        proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
        const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
        procs.push({ name, proc, out: () => out, exited });
        return { proc, out: () => out, exited, listen };
      };

      // keys: one-shot, exit 0, prints the verifier keys; a second run keeps them.
      const keys = await run('keys');
      expect(await keys.exited, keys.out()).toBe(0);
      const logKey = /log verifier key: (\S+)/.exec(keys.out())?.[1];
      expect(parseVerifierKey(logKey!).name).toBe(environment(SERVICES.keys!)['URNA_ORIGIN']);
      const again = await run('keys');
      expect(await again.exited, again.out()).toBe(0);
      expect(again.out()).toContain(`log verifier key: ${logKey}`);

      const nodes = [];
      for (const name of [...SEQUENCERS, ...MIRRORS]) nodes.push({ name, ...(await run(name)) });
      // /healthz is liveness: a mirror or standby is healthy while it catches up, and serves
      // /checkpoint once it proved the leader's first one. Ready is both.
      const health = async (listen: string) => {
        try {
          const [res, checkpoint] = await Promise.all([
            fetch(`http://${listen}/healthz`, { signal: AbortSignal.timeout(2000) }),
            fetch(`http://${listen}/checkpoint`, { signal: AbortSignal.timeout(2000) }).then(
              async (r) => (await r.arrayBuffer(), r.status),
            ),
          ]);
          return { status: res.status, checkpoint, body: (await res.json()) as { role?: string } };
        } catch {
          return { status: 0, checkpoint: 0, body: {} as { role?: string } };
        }
      };
      const deadline = Date.now() + 60_000;
      let roles: Record<string, string | undefined> = {};
      for (;;) {
        for (const n of nodes)
          if (n.proc.exitCode !== null) throw new Error(`${n.name} exited (${n.proc.exitCode}):\n${n.out()}`);
        const answers = await Promise.all(nodes.map((n) => health(n.listen!)));
        roles = Object.fromEntries(
          nodes.map((n, i) => [n.name, answers[i]!.status === 200 ? answers[i]!.body.role : undefined]),
        );
        const leaders = SEQUENCERS.filter((s) => roles[s] === 'leader');
        if (answers.every((a) => a.status === 200 && a.checkpoint === 200) && leaders.length === 1) break;
        if (Date.now() > deadline)
          throw new Error(
            `not all healthy and serving a checkpoint, with one leader, in 60 s: ${JSON.stringify(roles)} ` +
              `${JSON.stringify(answers.map((a) => a.checkpoint))}\n` +
              nodes.map((n) => `--- ${n.name}\n${n.out()}`).join('\n'),
          );
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(SEQUENCERS.map((s) => roles[s]).sort()).toEqual(['leader', 'standby']);
      expect(MIRRORS.map((m) => roles[m])).toEqual(['mirror', 'mirror']);
      for (const n of nodes) expect((await fetch(`http://${n.listen}/checkpoint`)).status, n.name).toBe(200);
    });
  });
});
