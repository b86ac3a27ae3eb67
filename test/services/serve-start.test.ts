/**
 * How `urna serve` starts and refuses to, as a real child process: a
 * signing key readable by group or others is refused (naming the file), a
 * start that fails leaves nothing new behind, a store behind the signer
 * state is never served, logs are JSON lines on stderr, and SIGTERM stops it
 * cleanly.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../ledger/note.js';
import { tempDir } from '../helpers/log.js';
import { StartError, startServer, URNA_BIN } from '../helpers/process.js';

function urna(args: string[]) {
  const r = spawnSync(process.execPath, [URNA_BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dirs: Array<() => Promise<void>> = [];
afterAll(async () => Promise.all(dirs.map((c) => c())));
async function dir() {
  const t = await tempDir('urna-start-');
  dirs.push(t.cleanup);
  return t.dir;
}

describe('urna serve at start', () => {
  it('refuses a signing key that group or others may read, naming the file', async () => {
    const d = await dir();
    const key = join(d, 'log.key');
    await writeFile(key, generateSignerKey('perm.example/log').signerKey + '\n', { mode: 0o600 });
    await chmod(key, 0o644);
    const r = urna(['serve', '--data', join(d, 'data'), '--key', key, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(key);
    expect(r.stderr).toMatch(/permissions 0644: .*\(chmod 600 /s);
    // Nothing was created for the refused start.
    expect(await readdir(d)).toEqual(['log.key']);
  });

  it('refuses a witness policy that is malformed, or does not list this log, naming the line or the log', async () => {
    const d = await dir();
    const key = join(d, 'log.key');
    const log = generateSignerKey('policy-start.example/log');
    await writeFile(key, log.signerKey + '\n', { mode: 0o600 });
    const policy = join(d, 'policy');
    await writeFile(policy, `log ${log.verifierKey}\nquorum nobody\n`);
    const args = [
      'serve',
      '--data',
      join(d, 'data'),
      '--key',
      key,
      '--listen',
      '127.0.0.1:0',
      '--rules',
      'none',
    ];
    const bad = urna([...args, '--witness-policy', policy]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--witness-policy .*policy line 2: nobody is not defined/);
    await writeFile(policy, `log ${generateSignerKey('other.example/log').verifierKey}\nquorum none\n`);
    const other = urna([...args, '--witness-policy', policy]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/no log line with this log's verifier key \(policy-start\.example\/log\)/);
    expect((await readdir(d)).sort()).toEqual(['log.key', 'policy']); // nothing left behind
  });

  it('leaves nothing new behind when it fails (the port is taken)', async () => {
    const d = await dir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const data = join(d, 'new-data');
      const r = urna(['serve', '--data', data, '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/EADDRINUSE/);
      expect(await readdir(d)).toEqual([]); // no data dir, no generated keys, no store, no signer state
      // In an existing data dir, only what it held before remains.
      const existing = join(d, 'existing');
      await mkdir(existing);
      await writeFile(join(existing, 'notes.txt'), 'mine');
      expect(urna(['serve', '--data', existing, '--listen', `127.0.0.1:${port}`]).code).toBe(1);
      expect(await readdir(existing)).toEqual(['notes.txt']);
    } finally {
      taken.close();
    }
  });

  it('logs JSON lines on stderr and stops cleanly on SIGTERM; a store behind its signer state is refused', async () => {
    const d = await dir();
    const key = join(d, 'log.key');
    await writeFile(key, generateSignerKey('start.example/log').signerKey + '\n', { mode: 0o600 });
    const data = join(d, 'data');
    const server = await startServer(['--data', data, '--key', key, '--rules', 'none']);
    const res = await fetch(`${server.url}/add`, {
      method: 'POST',
      body: 'one',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(201);
    await server.stop();
    expect(await server.exited).toBe(0);
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['serving the log', 'shutting down', 'stopped']));
    // The signer state, beside the key, holds the last checkpoint; a store without it is refused.
    expect(await readFile(`${key}.checkpoint`, 'utf8')).toMatch(/^start\.example\/log\n1\n/);
    const other = join(d, 'empty-data');
    const err = await startServer(['--data', other, '--key', key, '--rules', 'none']).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartError);
    expect((err as StartError).out).toMatch(
      /the store holds 0 entries, but the log key signed a checkpoint of size 1/,
    );
    expect((err as StartError).out).toMatch(/urna restore --from URL --data/);
    // And nothing was left of the refused start's new store.
    expect(await readdir(d)).not.toContain('empty-data');
  });

  it('--help describes every flag without starting anything', () => {
    const r = urna(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--signer-state',
      '--rate-writes',
      '--min-free-mb',
      '--scrub-rate',
      '--shutdown-ms',
      '--log-level',
    ])
      expect(r.stdout).toContain(flag);
  });
});
