/**
 * `urna verify checkpoint|receipt|inclusion|consistency` against a real
 * `urna serve` on loopback and a static copy of its tiles: a counted, a
 * superseded and an overridden ballot are verified with what was proven
 * and what is the log's word; a made-up tracker, a tampered receipt, a
 * receipt for another log, a modified tile in the copy and a checkpoint
 * the log's tree does not extend are each refused with exit 1 and a reason;
 * bad input and an unreachable source exit 2.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toHex } from '../../ledger/bytes.js';
import { parseCheckpoint, signCheckpoint } from '../../ledger/checkpoint.js';
import { leafHash } from '../../ledger/hash.js';
import {
  ED25519_TYPE,
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  parseNote,
  parseSignerKey,
} from '../../ledger/note.js';
import { tilePath, ENTRIES_LEVEL } from '../../ledger/tile.js';
import { readKeyFile } from '../../services/key-file.js';
import { LogClient } from '../../verifier/client.js';
import { buildElection, logAt, TEST_LOG, type ElectionFixture } from '../helpers/election.js';
import { tempDir } from '../helpers/log.js';
import { waitUntil } from '../helpers/mirror.js';
import { runUrna, startServer, type ServerProcess } from '../helpers/process.js';
import { copyTiles, serveDir, serveEntries } from '../helpers/static-copy.js';

let dir: string;
let cleanup: () => Promise<void>;
let server: ServerProcess;
let client: LogClient;
let f: ElectionFixture;
const trackers: { counted: string; superseded: string; overridden: string; later: string } = {
  counted: '',
  superseded: '',
  overridden: '',
  later: '',
};
let copy: { url: string; close(): Promise<void> };
let copyDir: string;
let earlier: string;

/**
 * Runs `f` while the static copy's first entry bundle has one byte flipped
 * in its last entry (entry 8, the override), then puts the bundle back.
 */
async function withForgedBundle<T>(f: () => Promise<T>): Promise<T> {
  const bundle = join(copyDir, tilePath({ level: ENTRIES_LEVEL, index: 0, width: 9 }));
  const original = await readFile(bundle);
  const forged = Buffer.from(original);
  forged[forged.length - 30]! ^= 1;
  await writeFile(bundle, forged);
  try {
    return await f();
  } finally {
    await writeFile(bundle, original);
  }
}

const verify = (args: string[]) => runUrna(['verify', ...args, '--log-key', server.verifierKey]);
const tracker = (bytes: Uint8Array) => toHex(leafHash(bytes));

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-verify-'));
  f = buildElection({ id: 'verify-2026', voters: 8 });
  const authority = formatVerifierKey('authority.example', ED25519_TYPE, fromBase64(f.authority.key));
  server = await startServer(['--data', join(dir, 'data'), '--authority', authority]);
  client = new LogClient(server.url, { logKey: server.verifierKey });
  for (const r of [f.election(), f.credentials(), f.phase('open')]) await client.submit(r);
  earlier = (await client.checkpoint()).note;
  const [v0, v1, v2] = f.voters;
  const counted = f.ballot(v0!);
  const superseded = f.ballot(v1!);
  const later = f.ballot(v1!);
  const overridden = f.ballot(v2!);
  for (const r of [counted, superseded, later, overridden, f.override(v2!)]) {
    const answer = await client.submit(r);
    await writeFile(join(dir, `${tracker(r)}.receipt`), answer.receipt);
  }
  Object.assign(trackers, {
    counted: tracker(counted),
    superseded: tracker(superseded),
    later: tracker(later),
    overridden: tracker(overridden),
  });
  await writeFile(join(dir, 'counted.entry'), counted);
  const size = 9; // log record, election, credentials, open, four ballots, the override
  await waitUntil(
    async () => (await client.checkpoint()).checkpoint.size >= size,
    `a checkpoint of size ${size}`,
    10_000,
  );
  copyDir = join(dir, 'copy');
  await copyTiles(server.url, copyDir);
  copy = await serveDir(copyDir);
}, 60_000);

afterAll(async () => {
  await copy?.close();
  await server?.stop();
  await cleanup?.();
});

describe('urna verify inclusion', () => {
  it('verifies a counted ballot, and says that it counting is the log’s word', async () => {
    const r = await verify(['inclusion', trackers.counted, '--log', server.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: ballot [0-9a-f]{64} is entry 4 of the log \(included\)/);
    expect(r.stdout).toMatch(/proven: it is a ballot of election verify-2026/);
    expect(r.stdout).toMatch(/the log says: it is its credential's last ballot/);
  });

  it('proves a superseded ballot’s later ballot and an overridden ballot’s override', async () => {
    const s = await verify(['inclusion', trackers.superseded, '--log', server.url, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const sv = JSON.parse(s.stdout) as { status: string; proven: string[]; claimed: string[] };
    expect(sv.status).toBe('superseded');
    expect(sv.proven.join('\n')).toMatch(/entry 6 is a later ballot of the same credential/);
    expect(sv.claimed).toEqual([]);
    const o = await verify(['inclusion', trackers.overridden, '--log', server.url]);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stdout).toMatch(/\(overridden\)/);
    expect(o.stdout).toMatch(/proven: entry 8 is a paper-vote override of its credential/);
  });

  it('refuses a made-up tracker and a wrong index, with exit 1', async () => {
    const made = await verify(['inclusion', 'ab'.repeat(32), '--log', server.url]);
    expect(made.code).toBe(1);
    expect(made.stdout).toMatch(/^not verified: the log has no ballot with tracker/);
    const wrong = await verify(['inclusion', trackers.counted, '--log', copy.url, '--index', '5']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/the entry at index 5 is not the ballot with tracker/);
  });

  it('verifies from a static copy of the tiles with --index, and refuses a modified bundle there', async () => {
    const r = await verify(['inclusion', trackers.counted, '--log', copy.url, '--index', '4']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/is entry 4 of the log \(unknown\)/);
    const noIndex = await verify(['inclusion', trackers.counted, '--log', copy.url, '--json']);
    expect(noIndex.code).toBe(1);
    expect(JSON.parse(noIndex.stdout)).toMatchObject({ verified: false, code: 'no_index' });
    const bad = await withForgedBundle(() =>
      verify(['inclusion', trackers.counted, '--log', copy.url, '--index', '4']),
    );
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/not verified|authenticate/);
  });

  it('exits 2 for a bad tracker and an unreachable source', async () => {
    expect((await verify(['inclusion', 'xyz', '--log', server.url])).code).toBe(2);
    const down = await verify(['inclusion', trackers.counted, '--log', 'http://127.0.0.1:9']);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/does not answer/);
  });
});

describe('urna verify receipt', () => {
  it('verifies a saved receipt offline, its tracker from the file name or the entry', async () => {
    const file = join(dir, `${trackers.counted}.receipt`);
    const r = await verify(['receipt', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: entry 4 \(tracker [0-9a-f]{64}\) is in the log/);
    expect((await verify(['receipt', file, '--entry', join(dir, 'counted.entry')])).code).toBe(0);
  });

  it('checks a receipt against the log with --log, and catches a fork signed with the log key, with evidence', async () => {
    const file = join(dir, `${trackers.counted}.receipt`);
    const r = await verify(['receipt', file, '--log', server.url]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: entry 4 .* and the log's latest checkpoint extends the receipt's/);
    // Another tree of 20 entries, signed with the log's own key: it does not extend the receipt's checkpoint.
    const key = await readKeyFile(join(dir, 'data', 'log.key'));
    const fork = await serveEntries(
      Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`fork entry ${i}`)),
      key,
    );
    try {
      const alarm = join(dir, 'receipt-fork.alarm');
      const bad = await verify(['receipt', file, '--log', fork.url, '--alarm', alarm, '--json']);
      expect(bad.code, bad.stdout + bad.stderr).toBe(1);
      expect(JSON.parse(bad.stdout)).toMatchObject({ verified: false, code: 'forked', alarm });
      expect((await verify(['alarm', alarm])).code).toBe(0);
    } finally {
      await fork.close();
    }
    expect((await verify(['receipt', file, '--log', 'http://127.0.0.1:9'])).code).toBe(2);
  });

  it('refuses a receipt for another ballot, a tampered one, and one for another log', async () => {
    const file = join(dir, `${trackers.counted}.receipt`);
    const other = await verify(['receipt', file, '--tracker', trackers.later]);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/^not verified: the receipt does not verify/);
    const text = await readFile(file, 'utf8');
    const tampered = join(dir, 'tampered.receipt');
    await writeFile(
      tampered,
      text.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`),
    );
    const t = await verify(['receipt', tampered, '--tracker', trackers.counted]);
    expect(t.code).toBe(1);
    const foreign = await runUrna([
      'verify',
      'receipt',
      file,
      '--log-key',
      formatVerifierKey(parseNote(earlier).text.split('\n')[0]!, ED25519_TYPE, new Uint8Array(32).fill(3)),
    ]);
    expect(foreign.code).toBe(1);
    expect(
      (await verify(['receipt', join(dir, 'missing.receipt'), '--tracker', trackers.counted])).code,
    ).toBe(2);
  });
});

describe('urna verify checkpoint and consistency', () => {
  it('verifies the latest checkpoint from the log and from a file', async () => {
    const r = await verify(['checkpoint', '--log', server.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: a checkpoint of the log\n {2}log \S+, size \d+/);
    const file = join(dir, 'earlier.checkpoint');
    await writeFile(file, earlier);
    expect((await verify(['checkpoint', file])).code).toBe(0);
    await writeFile(join(dir, 'bad.checkpoint'), earlier.replace(/\n(\d+)\n/, '\n999\n'));
    expect((await verify(['checkpoint', join(dir, 'bad.checkpoint')])).code).toBe(1);
    expect((await verify(['checkpoint'])).code).toBe(2);
  });

  it('proves the log extends an earlier checkpoint, and refuses one its tree does not hold', async () => {
    const file = join(dir, 'earlier.checkpoint');
    await writeFile(file, earlier);
    const r = await verify(['consistency', '--log', server.url, '--from', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: the log's checkpoint of size \d+ extends yours of size 4/);
    // The log's own key signing another root at the same size: a split view.
    const key = parseSignerKey(await readKeyFile(join(dir, 'data', 'log.key')));
    const c = parseCheckpoint(parseNote(earlier).text);
    const fork = signCheckpoint({ ...c, root: new Uint8Array(32).fill(5) }, key);
    await writeFile(join(dir, 'fork.checkpoint'), fork);
    const alarmFile = join(dir, 'fork.alarm');
    const bad = await verify([
      ...['consistency', '--log', server.url, '--from', join(dir, 'fork.checkpoint')],
      ...['--alarm', alarmFile],
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/does not extend yours of size 4: .*the evidence is in .*fork\.alarm/);
    // The evidence written proves the split view with the log key alone, and urna verify alarm says so.
    const alarm = await verify(['alarm', alarmFile]);
    expect(alarm.code, alarm.stdout + alarm.stderr).toBe(0);
    const json = await verify([
      ...['consistency', '--log', server.url, '--from', join(dir, 'fork.checkpoint'), '--json'],
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({ verified: false, code: 'forked' });
  });
});

describe('urna verify audit', () => {
  const strip = (r: { resumedFrom: number; replayed: number }) => ({ ...r, resumedFrom: 0, replayed: 0 });

  it('replays the log and reports its elections; a resumed audit gives the same report', async () => {
    const reportFile = join(dir, 'audit.json');
    const stateFile = join(dir, 'audit.state');
    const r = await verify(['audit', '--log', server.url, '--report', reportFile, '--state', stateFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verified: the log's \d+ entries replay to the checkpoint's root/);
    expect(r.stdout).toMatch(/election verify-2026 \(.*\): open; 4 ballots by 3 voters, 1 overrides/);
    expect(r.stderr).toMatch(/urna verify audit: \d+\/\d+ entries/); // plain progress lines off a terminal
    const first = JSON.parse(await readFile(reportFile, 'utf8')) as { resumedFrom: number; replayed: number };
    expect(first.resumedFrom).toBe(0);

    // More of the night, then the audit resumes from the saved replay and agrees with a fresh one.
    await client.submit(f.ballot(f.voters[3]!));
    const size = first.replayed + 1;
    await waitUntil(async () => (await client.checkpoint()).checkpoint.size >= size, `size ${size}`, 10_000);
    const resumed = await verify(['audit', '--log', server.url, '--state', stateFile, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const rr = (JSON.parse(resumed.stdout) as { report: { resumedFrom: number; replayed: number } }).report;
    expect(rr.resumedFrom).toBe(first.replayed);
    const fresh = await verify(['audit', '--log', server.url, '--json']);
    const fr = (JSON.parse(fresh.stdout) as { report: { resumedFrom: number; replayed: number } }).report;
    expect(strip(rr)).toEqual(strip(fr));
  });

  it('stops at a forged entry in a static copy, naming its index (exit 1)', async () => {
    const bad = await withForgedBundle(() => verify(['audit', '--log', copy.url]));
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/^not verified: entry 8 does not authenticate/);
  });

  it('refuses a state file of another log (exit 2)', async () => {
    const stateFile = join(dir, 'audit.state');
    const other = formatVerifierKey(
      parseNote(earlier).text.split('\n')[0]!,
      ED25519_TYPE,
      new Uint8Array(32).fill(3),
    );
    const r = await runUrna([
      'verify',
      'audit',
      '--log',
      server.url,
      '--state',
      stateFile,
      '--log-key',
      other,
    ]);
    expect(r.code).toBe(2);
  });
});

describe('urna verify against a log that signed what it should not have', () => {
  // A log whose key signed a tree holding records its rules refuse: a static copy of it, built in memory.
  const g = buildElection({ id: 'lying-2026', voters: 4 });
  const signerKey = formatSignerKey(TEST_LOG.origin, ED25519_TYPE, TEST_LOG.signer.seed);
  const logKey = formatVerifierKey(TEST_LOG.origin, ED25519_TYPE, fromBase64(TEST_LOG.signer.key));
  const honest = () => {
    const log = logAt(g, 'open');
    log.accept(...g.voters.map((v) => g.ballot(v)), g.phase('close'));
    const r = g.reporters;
    log.accept(
      g.report('north-1', 'referendum', 'preliminary', { yes: 60, no: 40 }, { by: r.north }),
      g.report('south-1', 'referendum', 'preliminary', { yes: 10, no: 30 }, { by: r.south }),
    );
    return log;
  };
  async function audit(entries: readonly Uint8Array[]) {
    const source = await serveEntries(entries, signerKey);
    try {
      return await runUrna(['verify', 'audit', '--log', source.url, '--log-key', logKey]);
    } finally {
      await source.close();
    }
  }

  it('accepts the honest log, its tally recomputed and matched', async () => {
    const log = honest();
    log.accept(g.tally(log));
    const r = await audit(log.records);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/election lying-2026 .*1 tally records/);
  });

  it('refuses a tally that does not match the replay, naming its entry (exit 1)', async () => {
    const log = honest();
    const forged = g.tally(log, {
      edit: (body) => {
        body.contests.referendum!.counted.votes.yes! += 1;
      },
    });
    expect(log.submit(forged)).toHaveProperty('error'); // the rules refuse it; this log signed it anyway
    const r = await audit([...log.records, forged]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`^not verified: entry ${log.size} \\(tally\\) is refused by the rules`),
    );
  });

  it('refuses a forged record (a ballot whose signature does not verify), naming its entry (exit 1)', async () => {
    const log = logAt(g, 'open');
    const ballot = g.ballot(g.voters[0]!);
    const text = new TextDecoder().decode(ballot);
    const sig = /"sig":"([^"]+)"/.exec(text)![1]!;
    const other = sig[0] === 'A' ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
    const forged = new TextEncoder().encode(text.replace(sig, other));
    const r = await audit([...log.records, forged]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`^not verified: entry ${log.size} is not a valid record: .*signature`),
    );
  });

  it('refuses a modified hash tile of a static copy (exit 1)', async () => {
    const tile = join(copyDir, tilePath({ level: 0, index: 0, width: 9 }));
    const original = await readFile(tile);
    const changed = Buffer.from(original);
    changed[40]! ^= 1; // inside the second hash
    await writeFile(tile, changed);
    try {
      const r = await verify(['inclusion', trackers.counted, '--log', copy.url, '--index', '4']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^not verified: /);
      const a = await verify(['audit', '--log', copy.url]);
      expect(a.code, a.stdout + a.stderr).toBe(1);
    } finally {
      await writeFile(tile, original);
    }
  });
});

describe("the README's openssl commands", () => {
  /** The shell block after `<!-- test: NAME -->` in README.md, as written there. */
  const block = async (name: string) => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const at = readme.indexOf(`<!-- test: ${name} -->`);
    expect(at).toBeGreaterThan(0);
    return /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  };
  const bash = (script: string, env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], { cwd: dir, env: { ...process.env, ...env } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', (code) => resolve({ code, out }));
    });

  it("verify a receipt's inclusion and its checkpoint's signature", async () => {
    const script = (await block('openssl-inclusion')) + (await block('openssl-checkpoint'));
    const r = await bash(script, { VKEY: server.verifierKey, TRACKER: trackers.superseded });
    expect(r.out).toMatch(/^included at index 5$/m);
    expect(r.out).toMatch(/^Signature Verified Successfully$/m);
    expect(r.code).toBe(0);
  });

  it('verify a checkpoint signed with a key whose base64 has a "+" and a "/" (the key field is the rest of VKEY)', async () => {
    let key = generateSignerKey('openssl.example/log');
    while (!/[+].*[/]|[/].*[+]/.test(key.verifierKey.split('+').slice(2).join('+')))
      key = generateSignerKey('openssl.example/log');
    const note = signCheckpoint(
      { origin: 'openssl.example/log', size: 3, root: new Uint8Array(32).fill(1), extensions: [] },
      parseSignerKey(key.signerKey),
    );
    await writeFile(join(dir, 'checkpoint'), note);
    const r = await bash(await block('openssl-checkpoint'), { VKEY: key.verifierKey });
    expect(r.out).toMatch(/^Signature Verified Successfully$/m);
  });

  it('refuse a receipt for another tracker and a checkpoint with another root', async () => {
    const text = await readFile(join(dir, `${trackers.counted}.receipt`), 'utf8');
    const lines = text.split('\n');
    const cp = lines.indexOf('') + 1; // the checkpoint's origin line
    lines[cp + 2] = Buffer.alloc(32, 9).toString('base64');
    const fake = 'cd'.repeat(32);
    await writeFile(join(dir, `${fake}.receipt`), lines.join('\n'));
    const script = (await block('openssl-inclusion')) + (await block('openssl-checkpoint'));
    const r = await bash(script, { VKEY: server.verifierKey, TRACKER: fake });
    expect(r.out).toMatch(/^NOT included$/m);
    expect(r.out).toMatch(/Signature Verification Failure/);
    expect(r.code).not.toBe(0);
  });
});
