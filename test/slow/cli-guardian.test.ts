/**
 * An encrypted election through the `urna` command against a real `urna
 * serve` over loopback: three `urna guardian keygen`, three concurrent `urna
 * guardian ceremony` processes for a 2-of-3 election (and one run again,
 * which continues where the log is), encrypted ballots cast with `urna cast
 * --choices` and admitted, a Benaloh challenge (`--challenge`: its spoiled
 * record published) checked by `urna verify spoiled`, and the refusals: a
 * key not yet fixed, an unknown contest or option, a tampered spoiled
 * ballot, a spoiled ballot's file that exists already.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../ledger/bytes.js';
import { guardianBody } from '../../ledger/encrypted-election.js';
import { encryptShare, guardianSecret, shareFor } from '../../ledger/guardian.js';
import {
  decodeElement,
  decodeScalar,
  encodeElement,
  G,
  L,
  mod,
  mul,
  randomScalar,
} from '../../ledger/group.js';
import { decodeSignerKey } from '../../ledger/note.js';
import { signRecord } from '../../ledger/record.js';
import type { ElectionBody } from '../../ledger/record.js';
import type { BallotStatus, CeremonyState, ElectionSummary } from '../../ledger/rules.js';
import { cliLog, encryptedManifest, encryptedRoles, getJson, type CliLog } from '../helpers/cli-election.js';
import type { ServerProcess } from '../helpers/process.js';

const urna = (args: string[]) => cli.urna(args);
const ok = (args: string[]) => cli.ok(args);

const ID = 'enc-cli-2026';
const GUARDIANS = [1, 2, 3];
let cli: CliLog;
let dir: string;
let server: ServerProcess;
let keys: CliLog['keys'];

beforeAll(async () => {
  cli = await cliLog('urna-cli-guardian-', encryptedRoles(GUARDIANS.length));
  ({ dir, server, keys } = cli);
});

afterAll(() => cli?.close());

function manifest(): ElectionBody {
  return encryptedManifest(ID, keys, {
    guardians: 3,
    quorum: 2,
    districts: [
      { id: 'd1', name: 'Valdistrikt 1' },
      { id: 'd2', name: 'Valdistrikt 2' },
    ],
    seats: 349,
  });
}

describe('an encrypted election with urna guardian and urna cast --choices', () => {
  it('runs the key ceremony with three guardian processes, casts encrypted ballots, and checks a spoiled one', async () => {
    const log = server.url;
    const common = ['--log', log];
    const withKey = [...common, '--log-key', server.verifierKey];
    const manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(manifest()));
    await ok(['election', 'create', ...common, '--key', keys.authority!.file, '--manifest', manifestFile]);
    const credDir = join(dir, 'credentials');
    await ok([
      'credentials',
      'issue',
      ...common,
      '--key',
      keys.registrar!.file,
      '--election',
      ID,
      '--count',
      '3',
      '--district',
      'd1',
      '--out',
      credDir,
    ]);
    const credFiles = readdirSync(credDir).map((f) => join(credDir, f));
    const summary = () => getJson<ElectionSummary>(`${log}/elections/${ID}`);
    expect((await summary()).key).toBeNull();

    const cast = (credential: string, extra: string[]) =>
      urna(['cast', ...withKey, '--credential', credential, '--election', ID, '--district', 'd1', ...extra]);

    // Before the ceremony: the key is not fixed, nothing is signed or submitted (with or without --log-key).
    for (const args of [withKey, common]) {
      const early = await urna([
        'cast',
        ...args,
        '--credential',
        credFiles[0]!,
        '--election',
        ID,
        '--district',
        'd1',
        '--choices',
        'riksdag=s',
      ]);
      expect(early.code, early.stderr).toBe(1);
      expect(early.stdout).not.toMatch(/tracker/);
      expect(early.stderr).toMatch(/key of election enc-cli-2026 is not fixed.*nothing submitted/);
    }

    // guardian keygen: 0600 files that never overwrite, and nothing secret printed.
    const secrets = GUARDIANS.map((i) => join(dir, `guardian-${i}.secret`));
    for (const file of secrets) {
      const out = await ok(['guardian', 'keygen', '--quorum', '2', '--out', file]);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const s = JSON.parse(readFileSync(file, 'utf8')) as { coefficients: string[]; communication: string };
      for (const secret of [...s.coefficients, s.communication]) expect(out).not.toContain(secret);
    }
    const again = await urna(['guardian', 'keygen', '--quorum', '2', '--out', secrets[0]!]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/EEXIST/);

    // Three guardians at once: each waits for the others at every step.
    const ceremony = (i: number) =>
      urna([
        'guardian',
        'ceremony',
        ...withKey,
        '--election',
        ID,
        '--guardian',
        secrets[i - 1]!,
        '--key',
        keys[`guardian-${i}`]!.file,
        '--timeout',
        '120',
        '--poll',
        '200',
      ]);
    const runs = await Promise.all(GUARDIANS.map(ceremony));
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^index \d+ guardian\nindex \d+ shares\nindex \d+ accept\nkey \S+\n$/);
    }
    const key = /^key (\S+)$/m.exec(runs[0]!.stdout)![1]!;
    for (const r of runs) expect(r.stdout).toContain(`key ${key}`);
    const fixed = await summary();
    expect(fixed.key).toBe(key);
    const state = await getJson<CeremonyState>(`${log}/elections/${ID}/ceremony`);
    expect(Object.keys(state.accepted).sort()).toEqual(['1', '2', '3']);

    // Each secret file is still 0600 and holds the key share, bound to the election; any two shares
    // combine (Lagrange at 0) into the secret of the election key.
    const shares = secrets.map((file) => {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const s = JSON.parse(readFileSync(file, 'utf8')) as {
        election: { id: string; index: number; hash: string };
        keyShare: string;
      };
      expect(s.election.id).toBe(ID);
      expect(s.election.hash).toBe(fixed.hash);
      return { index: s.election.index, share: decodeScalar(fromBase64(s.keyShare)) };
    });
    expect(shares.map((s) => s.index).sort()).toEqual([1, 2, 3]);
    const byIndex = new Map(shares.map((s) => [s.index, s.share]));
    // w_1 = 2/(2-1) = 2, w_2 = 1/(1-2) = -1: s = 2·s_1 − s_2.
    const secret = mod(2n * byIndex.get(1)! - byIndex.get(2)!);
    expect(secret < L).toBe(true);
    expect(toBase64(encodeElement(mul(G, secret)))).toBe(key);

    // Run again (as after a crash): it publishes nothing new and finds the same key.
    const rerun = await ceremony(2);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout.match(/\(already in the log\)/g)).toHaveLength(3);
    expect(rerun.stdout).toContain(`key ${key}`);

    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', ID, 'open']);

    // Encrypted ballots: the tracker first, then the receipt, verified; the log admits them.
    const ballots = [
      { cred: credFiles[0]!, choices: 'riksdag=s,referendum=yes' },
      { cred: credFiles[1]!, choices: 'riksdag=m' }, // the referendum not answered
      { cred: credFiles[2]!, choices: 'referendum=' }, // the referendum answered blank
    ];
    for (const [i, b] of ballots.entries()) {
      const receipt = join(dir, `ballot-${i}.receipt`);
      const r = await cast(b.cred, ['--choices', b.choices, '--receipt-out', receipt]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      const tracker = /^tracker ([0-9a-f]{64})$/.exec(lines[0]!)![1]!;
      expect(lines[1]).toMatch(
        /^encrypted under the key all 3 guardians accepted, read from the log at size \d+$/,
      );
      expect(lines[2]).toMatch(/^index \d+$/);
      expect(lines[3]).toBe(`receipt ${receipt}`);
      expect(lines[4]).toMatch(/^verified inclusion in /);
      expect((await getJson<BallotStatus>(`${log}/ballots/${tracker}`)).status).toBe('included');
      const index = Number(lines[2]!.split(' ')[1]);
      const rec = await getJson<{ record: { body: { contests: string[]; district: string } } }>(
        `${log}/records/${index}`,
      );
      expect(rec.record.body.district).toBe('d1');
      expect(rec.record.body.contests).toEqual(
        b.choices.split(',').map((c) => c.split('=')[0]), // in the election's order
      );
    }
    // Without --log-key the key is the log's word, and the ballot is admitted the same.
    const wordOnly = await urna([
      'cast',
      ...common,
      '--credential',
      credFiles[0]!,
      '--election',
      ID,
      '--district',
      'd1',
      '--choices',
      'riksdag=m',
    ]);
    expect(wordOnly.code, wordOnly.stderr).toBe(0);
    expect(wordOnly.stdout).not.toMatch(/authenticated|read from the log/);
    const counted = (await summary()).counts.ballots;
    expect(counted).toBe(4);

    // Usage errors: nothing signed, nothing submitted.
    for (const [choices, why] of [
      ['riksdag=x', /contest riksdag has no option x/],
      ['senate=s', /the election has no contest senate/],
      ['riksdag=s,riksdag=m', /votes, over its limit of 1/],
      ['riksdag', /expected CONTEST=OPTION/],
    ] as const) {
      const r = await cast(credFiles[1]!, ['--choices', choices]);
      expect(r.code, `${choices}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stdout).toBe('');
    }
    const noDistrict = await urna([
      'cast',
      ...withKey,
      '--credential',
      credFiles[1]!,
      '--election',
      ID,
      '--choices',
      'riksdag=s',
    ]);
    expect(noDistrict.code).toBe(2);
    expect(noDistrict.stderr).toMatch(/--district/);
    const opaque = await cast(credFiles[1]!, ['--contests', 'riksdag', '--ciphertext-base64', 'AQID']);
    expect(opaque.code).toBe(2);
    expect((await summary()).counts.ballots).toBe(counted);

    // A Benaloh challenge: the tracker, then the opening published in a spoiled record instead of the ballot.
    const spoiledFile = join(dir, 'challenge.spoiled.json');
    const challenge = await cast(credFiles[1]!, [
      '--choices',
      'riksdag=s,referendum=no',
      '--challenge',
      '--spoiled-out',
      spoiledFile,
    ]);
    expect(challenge.code, challenge.stderr).toBe(0);
    const spoiledTracker = /^tracker ([0-9a-f]{64})$/m.exec(challenge.stdout)![1]!;
    expect(challenge.stdout).toMatch(
      /^spoiled: published, so this ballot never counts \(riksdag: s; referendum: no\)$/m,
    );
    const spoiledIndex = Number(/^index (\d+) spoiled$/m.exec(challenge.stdout)![1]);
    expect(challenge.stdout).toContain(`receipt ${spoiledTracker}.spoiled.receipt`);
    expect(statSync(spoiledFile).mode & 0o777).toBe(0o600);
    expect(await getJson<BallotStatus>(`${log}/ballots/${spoiledTracker}`)).toMatchObject({
      status: 'spoiled',
      index: spoiledIndex,
    });
    expect((await summary()).counts.ballots).toBe(counted);
    // The file is never overwritten, and nothing is published when it exists.
    const size = async () => Number((await (await fetch(`${log}/checkpoint`)).text()).split('\n')[1]);
    const sizeBefore = await size();
    const exists = await cast(credFiles[1]!, [
      '--choices',
      'riksdag=s',
      '--challenge',
      '--spoiled-out',
      spoiledFile,
    ]);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toMatch(/EEXIST/);
    expect(await size()).toBe(sizeBefore);

    const verify = (file: string, extra: string[] = []) =>
      urna(['verify', 'spoiled', file, ...withKey, ...extra]);
    const verified = await verify(spoiledFile);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      new RegExp(
        `^verified: spoiled ballot ${spoiledTracker} of election ${ID} encrypts riksdag: s; referendum: no$`,
        'm',
      ),
    );
    expect(verified.stdout).toContain(
      `the log holds its spoiled record at index ${spoiledIndex} (proven under the checkpoint): it can never be cast`,
    );
    const json = await verify(spoiledFile, ['--json', '--election', ID]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verified: true,
      tracker: spoiledTracker,
      choices: { riksdag: { s: 1, m: 0 }, referendum: { yes: 0, no: 1 } },
      cast: null,
      spoiled: spoiledIndex,
      spoiledProven: true,
    });

    // Tampered: another choice, another nonce, another tracker, another election.
    type Spoiled = {
      tracker: string;
      openings: Array<{ contest: string; nonces: string[]; choices: { [o: string]: number } }>;
    };
    const original = JSON.parse(readFileSync(spoiledFile, 'utf8')) as Spoiled;
    const tampered = (name: string, edit: (s: Spoiled) => void): string => {
      const s = structuredClone(original);
      edit(s);
      const file = join(dir, `${name}.spoiled.json`);
      writeFileSync(file, JSON.stringify(s));
      return file;
    };
    const cases: Array<[string, (s: Spoiled) => void, RegExp]> = [
      [
        'choice',
        (s) => (s.openings[0]!.choices = { m: 1 }),
        /contest riksdag encrypts other choices .*riksdag: s/,
      ],
      [
        'nonce',
        (s) => (s.openings[1]!.nonces = [...s.openings[1]!.nonces].reverse()),
        /the nonces of contest referendum do not open its ciphertexts/,
      ],
      ['tracker', (s) => (s.tracker = '0'.repeat(64)), /tracker is [0-9a-f]{64}, not 0{64}/],
    ];
    for (const [name, edit, why] of cases) {
      const r = await verify(tampered(name, edit));
      expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout).toMatch(why);
    }
    const elsewhere = await verify(spoiledFile, ['--election', 'another']);
    expect(elsewhere.code).toBe(1);
    const garbage = join(dir, 'garbage.spoiled.json');
    writeFileSync(garbage, '{"v":1}');
    expect((await verify(garbage)).code).toBe(2);
  });

  it('a guardian times out waiting, resumes, and refuses to accept a bad share, naming its sender', async () => {
    const log = server.url;
    const id = 'enc-bad-share';
    const withKey = ['--log', log, '--log-key', server.verifierKey];
    const manifestFile = join(dir, 'bad-share.json');
    writeFileSync(manifestFile, JSON.stringify({ ...manifest(), id }));
    await ok(['election', 'create', '--log', log, '--key', keys.authority!.file, '--manifest', manifestFile]);
    const secrets = [1, 2].map((i) => join(dir, `bad-share-${i}.secret`));
    for (const file of secrets) await ok(['guardian', 'keygen', '--quorum', '2', '--out', file]);
    const ceremony = (i: number, timeout: number) =>
      urna([
        'guardian',
        'ceremony',
        ...withKey,
        '--election',
        id,
        '--guardian',
        secrets[i - 1]!,
        '--key',
        keys[`guardian-${i}`]!.file,
        '--timeout',
        String(timeout),
        '--poll',
        '200',
      ]);

    // Alone, guardian 1 publishes its commitments and gives up waiting for the others.
    const alone = await ceremony(1, 2);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toMatch(/^index \d+ guardian\n$/);
    expect(alone.stderr).toMatch(/timed out: guardian\(s\) 2, 3 have not published their commitments/);

    // Guardians 1 (resumed) and 2 run; the test plays guardian 3, whose share for guardian 1 is wrong.
    const runs = Promise.all([ceremony(1, 120), ceremony(2, 120)]);
    const seed = decodeSignerKey(readFileSync(keys['guardian-3']!.file, 'utf8').trim()).seed;
    const hash = fromBase64((await getJson<ElectionSummary>(`${log}/elections/${id}`)).hash);
    const secret = guardianSecret(3, 2);
    const zeta = randomScalar();
    const post = async (type: 'guardian' | 'shares', body: unknown) => {
      const bytes = signRecord({ v: 1, type, election: id, body } as Parameters<typeof signRecord>[0], seed);
      const res = await fetch(`${log}/add`, {
        method: 'POST',
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return ((await res.json()) as { index: number }).index;
    };
    await post('guardian', guardianBody(secret, zeta, hash));
    let state: CeremonyState;
    for (;;) {
      state = await getJson<CeremonyState>(`${log}/elections/${id}/ceremony`);
      if (Object.keys(state.guardians).length === 3) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const share = (to: number, value: bigint) => {
      const comm = {
        index: to,
        key: decodeElement(fromBase64(state.guardians[to]!.communication)),
        proof: { challenge: 0n, response: 0n },
      };
      const e = encryptShare(value, 3, comm, hash);
      return {
        to,
        alpha: toBase64(encodeElement(e.alpha)),
        ciphertext: toBase64(e.ciphertext),
        mac: toBase64(e.mac),
      };
    };
    const sharesIndex = await post('shares', {
      index: 3,
      shares: [share(1, mod(shareFor(secret, 1) + 1n)), share(2, shareFor(secret, 2))],
    });
    const [one, two] = await runs;
    expect(one!.code, one!.stdout + one!.stderr).toBe(1);
    expect(one!.stdout).toMatch(/^index \d+ guardian \(already in the log\)\nindex \d+ shares\n$/);
    expect(one!.stderr).toContain(`guardian 3's share (shares record at index ${sharesIndex}) is wrong`);
    expect(one!.stderr).toMatch(/refusing to accept/);
    expect(JSON.parse(readFileSync(secrets[0]!, 'utf8')).keyShare).toBeNull();
    expect(two!.code, two!.stdout + two!.stderr).toBe(0);
    const final = await getJson<CeremonyState>(`${log}/elections/${id}/ceremony`);
    expect(Object.keys(final.accepted)).toEqual(['2']);
    expect((await getJson<ElectionSummary>(`${log}/elections/${id}`)).key).toBeNull();
  });
});
