/**
 * The scaffolding of the election tests that drive the `urna` command
 * against a real `urna serve` (test/slow/cli-*.test.ts,
 * encrypted-night.test.ts): a temp dir with a key file per role (made by
 * `urna keygen`), a server trusting the authority, `urna` run in the dir,
 * and the manifest of a small encrypted election.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ElectionBody } from '../../ledger/record.js';
import { tempDir } from './log.js';
import { runUrna, startServer, type ServerProcess, type UrnaRun } from './process.js';

/** A role's key file and its verifier key (as `urna keygen` prints it). */
export type RoleKey = { file: string; vkey: string };

/** A running log for CLI tests, with `urna` run in its temp dir. */
export type CliLog = {
  dir: string;
  server: ServerProcess;
  keys: { [role: string]: RoleKey };
  /** Runs `urna ARGS` in the dir (in `cwd` if given). */
  urna(args: string[], cwd?: string): Promise<UrnaRun>;
  /** Runs `urna ARGS` and requires exit 0; returns stdout. */
  ok(args: string[], cwd?: string): Promise<string>;
  close(): Promise<void>;
};

/** Makes a key per role in a new temp dir (`prefix`) and starts a server trusting `authority`'s. */
export async function cliLog(prefix: string, roles: readonly string[]): Promise<CliLog> {
  const { dir, cleanup } = await tempDir(prefix);
  const urna = (args: string[], cwd = dir) => runUrna(args, { cwd });
  const ok = async (args: string[], cwd?: string) => {
    const r = await urna(args, cwd);
    if (r.code !== 0) throw new Error(`urna ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const keys: { [role: string]: RoleKey } = {};
  await Promise.all(
    roles.map(async (role) => {
      const file = join(dir, `${role}.key`);
      keys[role] = { file, vkey: (await ok(['keygen', `${role}.example`, '--out', file])).trim() };
    }),
  );
  const server = await startServer(['--data', join(dir, 'data'), '--authority', keys.authority!.vkey]);
  return {
    dir,
    server,
    keys,
    urna,
    ok,
    close: async () => {
      await server.stop();
      await cleanup();
    },
  };
}

/** The roles of an encrypted election's CLI test: authority, registrar, reporter, counter, guardian-1 … guardian-n. */
export function encryptedRoles(guardians: number): string[] {
  return [
    'authority',
    'registrar',
    'reporter',
    'counter',
    ...Array.from({ length: guardians }, (_, i) => `guardian-${i + 1}`),
  ];
}

/** GETs `url`, requires 200, and returns its JSON. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

/**
 * A small encrypted election: a Riksdag contest (S, M; Sainte-Laguë) and a
 * referendum (plurality), polling districts `districts` under the root,
 * electorate 100 each, roles from `keys` (registrar, counter, reporter over
 * the root, and `guardian-1` … `guardian-n` with `quorum`).
 */
export function encryptedManifest(
  id: string,
  keys: { [role: string]: RoleKey },
  opts: { guardians: number; quorum: number; districts: Array<{ id: string; name: string }>; seats?: number },
): ElectionBody {
  return {
    id,
    title: `Encrypted election ${id}`,
    contests: [
      {
        id: 'riksdag',
        title: 'Riksdag',
        options: [
          { id: 's', title: 'S' },
          { id: 'm', title: 'M' },
        ],
        seats: opts.seats ?? 9,
        method: { name: 'sainte-lague', firstDivisor: 1.2 },
      },
      {
        id: 'referendum',
        title: 'Folkomröstning',
        options: [
          { id: 'yes', title: 'Ja' },
          { id: 'no', title: 'Nej' },
        ],
        seats: 1,
        method: { name: 'plurality' },
      },
    ],
    districts: [
      { id: 'se', name: 'Sverige', parent: null, electorate: 100 * opts.districts.length },
      ...opts.districts.map((d) => ({ ...d, parent: 'se', electorate: 100 })),
    ],
    roles: {
      registrar: keys.registrar!.vkey,
      counter: keys.counter!.vkey,
      reporters: [{ key: keys.reporter!.vkey, district: 'se' }],
      guardians: {
        keys: Array.from({ length: opts.guardians }, (_, i) => keys[`guardian-${i + 1}`]!.vkey),
        quorum: opts.quorum,
      },
    },
    revoting: 'last',
  };
}
