/**
 * `npm run cluster` (dev/cluster-runner.ts), the parts that need no
 * processes: the command line, the keys generated once under the data root,
 * and the data root guard (--fresh wipes only a cluster's own directory; one
 * cluster per directory). test/slow/cluster.test.ts runs the real thing.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { UsageError } from '../../services/cli/usage-error.js';
import { ensureKey, parseClusterArgs, prepareDataRoot } from '../../dev/cluster-runner.js';
import { tempDir } from '../helpers/log.js';

describe('parseClusterArgs', () => {
  it('defaults: ./cluster-data, 2 sequencers, 2 mirrors, 60 s', () => {
    expect(parseClusterArgs([], '/work/x')).toEqual({
      dataDir: '/work/x/cluster-data',
      fresh: false,
      sequencers: 2,
      mirrors: 2,
      origin: 'urna.localhost/log',
      timeoutMs: 60_000,
      verbose: false,
    });
  });

  it('flags', () => {
    const o = parseClusterArgs(
      ['--data', 'd', '--fresh', '--sequencers', '3', '--mirrors', '0', '--timeout', '5', '--verbose'],
      '/w',
    );
    expect(o).toMatchObject({
      dataDir: '/w/d',
      fresh: true,
      sequencers: 3,
      mirrors: 0,
      timeoutMs: 5000,
      verbose: true,
    });
    expect(parseClusterArgs(['--data', '/abs/dir'], '/w')).toMatchObject({ dataDir: '/abs/dir' });
    expect(parseClusterArgs(['--origin', 'example.org/log'])).toMatchObject({ origin: 'example.org/log' });
    expect(parseClusterArgs(['--help'])).toBe('help');
    expect(parseClusterArgs(['-h'])).toBe('help');
  });

  it.each([
    [['--sequencers', 'two']],
    [['--sequencers', '10']],
    [['--mirrors', '-1']],
    [['--timeout', '0']],
    [['--data', '']],
    [['--origin', 'has space']],
    [['--origin', 'a+b']],
    [['--unknown']],
    [['positional']],
  ])('refuses %j with a UsageError', (args) => {
    expect(() => parseClusterArgs(args)).toThrow(UsageError);
  });
});

describe('ensureKey', () => {
  it('generates a signer key once (mode 0600), then reuses it; writes the verifier key beside it', async () => {
    const { dir, cleanup } = await tempDir('urna-dev-keys-');
    try {
      const file = join(dir, 'log.key');
      const a = await ensureKey(file, 'dev.test/log');
      expect(a.created).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const skey = (await readFile(file, 'utf8')).trim();
      expect(skey).toMatch(/^PRIVATE\+KEY\+dev\.test\/log\+/);
      expect(parseSignerKey(skey).verifierKey).toBe(a.verifierKey);
      expect(parseVerifierKey(a.verifierKey).name).toBe('dev.test/log');
      expect((await readFile(join(dir, 'log.vkey'), 'utf8')).trim()).toBe(a.verifierKey);

      const b = await ensureKey(file, 'dev.test/log');
      expect(b).toEqual({ verifierKey: a.verifierKey, created: false });
      expect((await readFile(file, 'utf8')).trim()).toBe(skey);
    } finally {
      await cleanup();
    }
  });
});

describe('prepareDataRoot', () => {
  it('creates a marked root; --fresh wipes only a marked root', async () => {
    const { dir, cleanup } = await tempDir('urna-dev-root-');
    try {
      const root = join(dir, 'cluster');
      await prepareDataRoot(root, false);
      expect(existsSync(join(root, '.urna-cluster'))).toBe(true);
      expect(existsSync(join(root, 'keys'))).toBe(true);
      expect((await readFile(join(root, 'cluster.pid'), 'utf8')).trim()).toBe(String(process.pid));
      await writeFile(join(root, 'keys', 'log.key'), 'x');
      await prepareDataRoot(root, false); // kept
      expect(existsSync(join(root, 'keys', 'log.key'))).toBe(true);
      await prepareDataRoot(root, true); // wiped
      expect(existsSync(join(root, 'keys', 'log.key'))).toBe(false);
      expect(existsSync(join(root, '.urna-cluster'))).toBe(true);

      const foreign = join(dir, 'foreign');
      await mkdir(foreign);
      await writeFile(join(foreign, 'precious'), 'do not delete');
      await expect(prepareDataRoot(foreign, true)).rejects.toThrow(/not a cluster data root/);
      await expect(prepareDataRoot(foreign, false)).rejects.toThrow(UsageError);
      expect(existsSync(join(foreign, 'precious'))).toBe(true);

      const empty = join(dir, 'empty');
      await mkdir(empty);
      await prepareDataRoot(empty, true); // an empty directory is fine
      expect(existsSync(join(empty, '.urna-cluster'))).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('refuses a root whose pid file names a live cluster, not a dead one', async () => {
    const { dir, cleanup } = await tempDir('urna-dev-root-');
    // A live process whose command line says "cluster", standing for another `npm run cluster`.
    const other = spawn('/bin/sh', ['-c', 'sleep 30', 'cluster'], { stdio: 'ignore' });
    try {
      await prepareDataRoot(dir, false);
      await writeFile(join(dir, 'cluster.pid'), `${other.pid}\n`);
      await expect(prepareDataRoot(dir, false)).rejects.toThrow(/already running/);
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      await prepareDataRoot(dir, false);
    } finally {
      other.kill('SIGKILL');
      await cleanup();
    }
  });
});
