/** Test helper: runs `urna` commands as real child processes on loopback. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateCosignerKey } from '../../ledger/cosignature.js';
import { fileURLToPath } from 'node:url';

export const URNA_BIN = fileURLToPath(new URL('../../bin/urna.js', import.meta.url));

export interface ServerProcess {
  url: string;
  verifierKey: string;
  proc: ChildProcess;
  /** Output so far (stdout and stderr), for failure messages. */
  output(): string;
  /** kill -9, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

/** The process exited before it listened: its exit code and output. */
export class StartError extends Error {
  constructor(
    readonly code: number | null,
    readonly out: string,
  ) {
    super(`process exited (${code}) before listening:\n${out}`);
  }
}

/**
 * The environment the suites run nodes with: no per-client limits on
 * requests or connections (every test client comes from 127.0.0.1, and the
 * suites and benchmarks load a node far harder than one client should), no
 * scrub. The suites that test those set them (flags win over the
 * environment).
 */
export const TEST_NODE_ENV: Record<string, string> = {
  URNA_MAX_CONNECTIONS_PER_CLIENT: '0',
  URNA_RATE_WRITES: '0',
  URNA_RATE_REJECTED: '0',
  URNA_RATE_PROOFS: '0',
  URNA_RATE_READS: '0',
  URNA_OLD_PROOFS_PER_SECOND: '0',
  URNA_SCRUB_RATE: '0',
};

/** The environment that undoes TEST_NODE_ENV: the shipped defaults (an empty variable counts as unset). */
export const SHIPPED_NODE_ENV: Record<string, string> = Object.fromEntries(
  Object.keys(TEST_NODE_ENV).map((name) => [name, '']),
);

/** Starts `urna mirror` on a free loopback port and waits until it listens (StartError if it exits first). */
export function startMirror(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  return startListening([URNA_BIN, 'mirror', '--listen', '127.0.0.1:0', ...args], {
    ...TEST_NODE_ENV,
    ...env,
  });
}

/** Starts `urna witness` on a free loopback port and waits until it listens. */
export function startWitness(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  return startListening([URNA_BIN, 'witness', '--listen', '127.0.0.1:0', ...args], {
    ...TEST_NODE_ENV,
    ...env,
  });
}

/** A 2-of-3 C2SP tlog-policy for `logKey`: witnesses w0, w1, w2 with `keys`, at `urls`. */
export function twoOfThreePolicy(
  logKey: string,
  keys: { verifierKey: string }[],
  urls: { url: string }[],
): string {
  return (
    `log ${logKey}\n` +
    keys.map((k, i) => `witness w${i} ${k.verifierKey} ${urls[i]!.url}\n`).join('') +
    'group two 2 w0 w1 w2\nquorum two\n'
  );
}

/**
 * Three `urna witness` processes for the log `logKey`, their keys and data
 * under `dir` (`w<i>.key`, `w<i>/`), and the 2-of-3 policy naming them.
 */
export async function startThreeWitnesses(
  dir: string,
  logKey: string,
): Promise<{
  witnesses: ServerProcess[];
  keys: { signerKey: string; verifierKey: string }[];
  policy: string;
}> {
  const keys = [0, 1, 2].map((i) => generateCosignerKey(`w${i}.example/witness`));
  const witnesses: ServerProcess[] = [];
  for (const [i, k] of keys.entries()) {
    await writeFile(join(dir, `w${i}.key`), k.signerKey + '\n', { mode: 0o600 });
    witnesses.push(
      await startWitness(['--data', join(dir, `w${i}`), '--key', join(dir, `w${i}.key`), '--log', logKey]),
    );
  }
  return { witnesses, keys, policy: twoOfThreePolicy(logKey, keys, witnesses) };
}

/** Starts `urna serve` on a free loopback port and waits until it listens. */
export function startServer(
  args: string[],
  env: Record<string, string> = {},
  opts: { prefix?: string[] } = {},
): Promise<ServerProcess> {
  return startListening(
    [URNA_BIN, 'serve', '--listen', '127.0.0.1:0', ...args],
    { ...TEST_NODE_ENV, ...env },
    opts,
  );
}

/**
 * Runs `node ...nodeArgs` and waits until it prints `listening on URL` (and
 * `urna: log VKEY`, `urna: mirror of VKEY`, `urna: witness VKEY` or
 * `urna: counter of ID`), as `urna serve`, `mirror`, `witness` and `count` do.
 */
export async function startListening(
  nodeArgs: string[],
  env: Record<string, string> = {},
  opts: { prefix?: string[] } = {},
): Promise<ServerProcess> {
  // `prefix`: a command that runs node, e.g. ['prlimit', '--nofile=1024'] (it must exec it: signals go to node).
  const [command, ...args] = [...(opts.prefix ?? []), process.execPath, ...nodeArgs];
  const proc = spawn(command!, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ url: string; verifierKey: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (\S+)/.exec(out)?.[1];
      const key = /urna: (?:log|mirror of|monitor of|witness|counter of) (\S+)/.exec(out)?.[1];
      if (url && key) resolve({ url, verifierKey: key });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then((code) => reject(new StartError(code, out)));
    setTimeout(() => reject(new Error(`process did not start in 60 s:\n${out}`)), 60_000).unref();
  });
  const { url, verifierKey } = await ready;
  return {
    url,
    verifierKey,
    proc,
    exited,
    output: () => out,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** What a finished `urna` command printed, and its exit code. */
export type UrnaRun = { code: number | null; stdout: string; stderr: string };

/** Runs `urna ...args` as a child process, asynchronously (servers in this process keep running). */
export function runUrna(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<UrnaRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [URNA_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
