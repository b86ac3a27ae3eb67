/** The `urna` command as a user runs it: a real child process. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { formatAlarm, parseAlarm } from '../../ledger/alarm.js';
import { CheckpointWatcher } from '../../verifier/monitor.js';
import { forkedLog } from '../helpers/forked-log.js';
import { tempDir } from '../helpers/log.js';
import { URNA_BIN } from '../helpers/process.js';

const VECTORS = fileURLToPath(new URL('../vectors/merkle', import.meta.url));

function urna(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [URNA_BIN, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dirs: Array<() => Promise<void>> = [];
afterAll(async () => Promise.all(dirs.map((c) => c())));

describe('urna keygen', () => {
  it('writes a 0600 signer key and prints the matching verifier key', async () => {
    const { dir, cleanup } = await tempDir();
    dirs.push(cleanup);
    const file = join(dir, 'log.key');
    const r = urna(['keygen', 'vote.example/log', '--out', file]);
    expect(r.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const signer = parseSignerKey(readFileSync(file, 'utf8').trim());
    expect(r.stdout.trim()).toBe(signer.verifierKey);
    expect(parseVerifierKey(r.stdout.trim()).name).toBe('vote.example/log');
    // Never overwrites a key.
    expect(urna(['keygen', 'other', '--out', file]).code).toBe(1);
    expect(parseSignerKey(readFileSync(file, 'utf8').trim()).name).toBe('vote.example/log');
  });

  it('makes witness (cosignature, type 0x04) keys', async () => {
    const { dir, cleanup } = await tempDir();
    dirs.push(cleanup);
    const r = urna(['keygen', 'witness.example/w1', '--out', join(dir, 'w.key'), '--witness']);
    expect(r.code).toBe(0);
    expect(parseVerifierKey(r.stdout.trim()).type).toBe(0x04);
  });

  it('exits 2 on a bad command line', () => {
    expect(urna(['keygen']).code).toBe(2);
    expect(urna(['keygen', 'a', 'b', '--out', '/tmp/x']).code).toBe(2);
    expect(urna(['nonsense']).code).toBe(2);
  });
});

describe('urna verify proofs', () => {
  const probes = ['inclusion', 'consistency'].flatMap((kind) =>
    readdirSync(join(VECTORS, kind), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({
        name: `${kind}/${f}`,
        probe: JSON.parse(readFileSync(join(VECTORS, kind, f), 'utf8')),
      })),
  );

  it('prints ok for every happy path and fail for every mutated vector, one line each', () => {
    const input = probes.map((p) => JSON.stringify(p.probe)).join('\n') + '\n';
    const r = urna(['verify', 'proofs'], input);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(probes.length);
    probes.forEach((p, i) => {
      if (p.probe.wantErr) expect(lines[i], p.name).toMatch(/^fail /);
      else expect(lines[i], p.name).toBe('ok');
    });
  });

  it('reports malformed probes as failures and exits 2 on input that is not JSON', () => {
    const r = urna(
      ['verify', 'proofs'],
      '{"leafIdx":1}\n{"size1":1,"size2":2,"root1":"AA==","root2":"AA==","proof":[]}\n[1]\n',
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^fail malformed/),
      expect.stringMatching(/^fail malformed/),
      expect.stringMatching(/^fail malformed/),
    ]);
    const bad = urna(['verify', 'proofs'], '{"leafIdx":1}\nnot json\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/line 2 is not JSON/);
  });
});

describe('urna verify alarm', () => {
  it('exits 0 for evidence of a fork, 1 for evidence that proves nothing, 2 for a file that is no alarm', async () => {
    const { dir, cleanup } = await tempDir();
    dirs.push(cleanup);
    const log = forkedLog({ at: 40, mode: 'split' });
    const [h, f] = [log.honest(100), log.forked(300)];
    const watcher = new CheckpointWatcher(log.keys.verifierKey);
    await watcher.observe(h.checkpoint, 'log', [h.reader]);
    const o = await watcher.observe(f.checkpoint, 'fork', [f.reader]);
    if (o.kind !== 'alarm') throw new Error('expected an alarm');
    const file = join(dir, 'alarm.json');
    writeFileSync(file, o.text);
    const proven = urna(['verify', 'alarm', file, '--log-key', log.keys.verifierKey]);
    expect([proven.code, proven.stdout.split('\n')[0]]).toEqual([0, `fork proven: ${log.origin} signed`]);
    const e = parseAlarm(o.text);
    writeFileSync(file, formatAlarm({ ...e, notes: [h.checkpoint, h.checkpoint] }));
    const notProven = urna(['verify', 'alarm', file, '--log-key', log.keys.verifierKey]);
    expect([notProven.code, notProven.stdout]).toEqual([
      1,
      `not proven: both checkpoints are of one tree (size 100)\n`,
    ]);
    writeFileSync(file, 'not an alarm');
    expect(urna(['verify', 'alarm', file, '--log-key', log.keys.verifierKey]).code).toBe(2);
  });
});

describe('urna help', () => {
  it('prints usage', () => {
    const r = urna(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/urna serve/);
  });
});
