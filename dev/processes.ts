/**
 * Child processes for development tools and tests: free loopback ports, a
 * bounded output tail, graceful stop with a SIGKILL fallback, and making sure
 * no child outlives its parent.
 *
 * A child is killed (SIGKILL) when the parent exits normally ('exit' hook),
 * and, on Linux, by a small watchdog shell when the parent dies without
 * running its exit hooks (SIGKILL, or vitest ending a worker): the watchdog
 * polls every second while both live, then kills the child if it still runs
 * and its command line still contains `marker` (so a reused pid is never
 * hit), and then removes `removeDir` if given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

/** Whether something accepts TCP connections on 127.0.0.1:port (1 s timeout). */
export function tcpReachable(port: number): Promise<boolean> {
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

/** The last `max` characters of a process's output. */
export class OutputTail {
  private text = '';
  constructor(private readonly max = 64 * 1024) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) this.text = this.text.slice(this.text.length - this.max);
  }
  toString(): string {
    return this.text;
  }
  /** The last `n` non-empty lines. */
  lastLines(n: number): string[] {
    return this.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-n);
  }
}

const WATCHDOG = `
while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
if kill -0 "$2" 2>/dev/null && tr '\\0' ' ' < "/proc/$2/cmdline" | grep -qF -- "$3"; then
  kill -9 "$2"; sleep 1; [ -z "$4" ] || rm -rf -- "$4"
fi
`;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Makes sure `proc` does not outlive this process (see the module comment).
 * `marker` must occur in the child's command line.
 */
export function guardChild(proc: ChildProcess, marker: string, removeDir?: string): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  if (process.platform !== 'linux' || proc.pid === undefined) return;
  const w = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'urna-watchdog', String(process.pid), String(proc.pid), marker, removeDir ?? ''],
    { detached: true, stdio: 'ignore' },
  );
  w.on('error', () => {}); // best effort
  w.unref();
}

/** Whether the process has not exited yet. */
export function isRunning(proc: ChildProcess | null | undefined): proc is ChildProcess {
  return !!proc && proc.exitCode === null && proc.signalCode === null;
}

/**
 * Sends `sig` and waits for `exited` (the process's exit), with SIGKILL after
 * `timeoutMs`. Does nothing if the process has already exited.
 */
export async function signalAndWait(
  proc: ChildProcess | null | undefined,
  exited: Promise<unknown>,
  sig: NodeJS.Signals,
  timeoutMs = 10_000,
): Promise<void> {
  if (!isRunning(proc)) return;
  proc.kill(sig);
  const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

/**
 * Calls `line` for each complete line written to `stream`, and for the last
 * partial line when it ends.
 */
export function onLines(stream: NodeJS.ReadableStream, line: (text: string) => void): void {
  let rest = '';
  stream.on('data', (c: Buffer | string) => {
    rest += c.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) line(l);
  });
  stream.on('end', () => {
    if (rest) line(rest);
    rest = '';
  });
}
