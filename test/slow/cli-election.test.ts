/**
 * The election clients of the `urna` command against a real `urna serve`
 * over loopback: `election create` (a manifest whose districts need several
 * records), `credentials issue` (generated keys and a key list), `phase`,
 * `cast` (the tracker printed before submitting is the receipt's leaf, and
 * the receipt file verifies offline), `report` (the protocol file's SHA-256),
 * rejections with the log's codes, and `urna demo` end to end.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toBase64, toHex, utf8 } from '../../ledger/bytes.js';
import { hash, leafHash } from '../../ledger/hash.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import type { DistrictDef, ElectionBody } from '../../ledger/record.js';
import type { BallotStatus, ElectionSummary } from '../../ledger/rules.js';
import { cliLog, getJson, type CliLog } from '../helpers/cli-election.js';
import type { ServerProcess } from '../helpers/process.js';

const urna = (args: string[], cwd?: string) => cli.urna(args, cwd);
const ok = (args: string[], cwd?: string) => cli.ok(args, cwd);

let cli: CliLog;
let dir: string;
let server: ServerProcess;
let keys: CliLog['keys'];

beforeAll(async () => {
  cli = await cliLog('urna-cli-election-', ['authority', 'registrar', 'reporter', 'counter', 'voter']);
  ({ dir, server, keys } = cli);
});

afterAll(() => cli?.close());

/**
 * A manifest with 1,503 districts (root, two regions, 1,500 polling
 * districts of electorate 100): more than one record holds. Role keys in
 * verifier-key form, as `urna keygen` prints them.
 */
function manifest(id: string): ElectionBody {
  const districts: DistrictDef[] = [
    { id: 'se', name: 'Sverige', parent: null, electorate: 150_000 },
    { id: 'north', name: 'Norr', parent: 'se', electorate: 75_000 },
    { id: 'south', name: 'Söder', parent: 'se', electorate: 75_000 },
  ];
  for (let i = 0; i < 1500; i++)
    districts.push({
      id: `d${String(i).padStart(4, '0')}`,
      name: `Valdistrikt ${i}`,
      parent: i < 750 ? 'north' : 'south',
      electorate: 100,
    });
  return {
    id,
    title: 'CLI test election',
    contests: [
      {
        id: 'riksdag',
        title: 'Riksdag',
        options: [
          { id: 's', title: 'S' },
          { id: 'm', title: 'M' },
        ],
        seats: 349,
        method: { name: 'sainte-lague' },
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
    districts,
    roles: {
      registrar: keys.registrar!.vkey,
      counter: keys.counter!.vkey,
      reporters: [{ key: keys.reporter!.vkey, district: 'south' }],
    },
    revoting: 'last',
  };
}

describe('urna election clients against a running log', () => {
  it('creates an election, issues credentials, casts, reports and moves through the phases', async () => {
    const log = server.url;
    const id = 'cli-2026';
    const manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(manifest(id)));
    const common = ['--log', log];

    // election create: the election record, then districts records, in order.
    const created = await ok([
      'election',
      'create',
      ...common,
      '--key',
      keys.authority!.file,
      '--manifest',
      manifestFile,
    ]);
    const lines = created.trim().split('\n');
    expect(lines[0]).toBe(`election ${id}`);
    const recs = lines.slice(1).map((l) => /^index (\d+) (election|districts) \((\d+) districts\)$/.exec(l)!);
    expect(recs.every(Boolean)).toBe(true);
    expect(recs.length).toBeGreaterThan(1);
    expect(recs[0]![2]).toBe('election');
    expect(recs.reduce((n, m) => n + Number(m[3]), 0)).toBe(1503);
    const indexes = recs.map((m) => Number(m[1]));
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    // Running it again changes nothing: the log answers with the same indexes.
    const again = await ok([
      'election',
      'create',
      ...common,
      '--key',
      keys.authority!.file,
      '--manifest',
      manifestFile,
    ]);
    expect(again.match(/^index \d+/gm)).toEqual(created.match(/^index \d+/gm));
    expect(again).toMatch(/already in the log/);

    // credentials issue: generated keys (0600 files) and a list of existing keys.
    const credDir = join(dir, 'credentials');
    const issued = await ok([
      'credentials',
      'issue',
      ...common,
      '--key',
      keys.registrar!.file,
      '--election',
      id,
      '--count',
      '3',
      '--district',
      'd0900',
      '--out',
      credDir,
    ]);
    expect(issued).toMatch(/^index \d+ credentials \(3 credentials\)$/m);
    const credFiles = readdirSync(credDir).map((f) => join(credDir, f));
    expect(credFiles).toHaveLength(3);
    for (const f of credFiles) expect(statSync(f).mode & 0o777).toBe(0o600);
    const list = join(dir, 'keys.txt');
    writeFileSync(list, `# one voter with a key of their own\n${keys.voter!.vkey} d0901\n`);
    await ok([
      'credentials',
      'issue',
      ...common,
      '--key',
      keys.registrar!.file,
      '--election',
      id,
      '--keys',
      list,
    ]);
    // The wrong key is refused with the log's code.
    const wrongRole = await urna([
      'credentials',
      'issue',
      ...common,
      '--key',
      keys.counter!.file,
      '--election',
      id,
      '--keys',
      list,
    ]);
    expect(wrongRole.code).toBe(1);
    expect(wrongRole.stderr).toMatch(/wrong_role/);

    // A ballot before voting opens is refused, but its tracker was printed first.
    const ciphertextFile = join(dir, 'ballot.bin');
    writeFileSync(ciphertextFile, hash(utf8('an encrypted ballot')));
    const cast = (credential: string, extra: string[], cwd?: string) =>
      urna(
        [
          'cast',
          ...common,
          '--credential',
          credential,
          '--election',
          id,
          '--contests',
          'riksdag,referendum',
          ...extra,
        ],
        cwd ?? dir, // receipts land in the working directory by default: keep them in the test's
      );
    const early = await cast(credFiles[0]!, ['--ciphertext-file', ciphertextFile]);
    expect(early.code).toBe(1);
    expect(early.stdout).toMatch(/^tracker [0-9a-f]{64}\n$/);
    expect(early.stderr).toMatch(/wrong_phase/);

    expect(await ok(['phase', ...common, '--key', keys.authority!.file, '--election', id, 'open'])).toMatch(
      /^index \d+ phase open\n$/,
    );

    // cast: tracker first, then the receipt, verified with the log key, and offline again here.
    const receiptFile = join(dir, 'first.receipt');
    const first = await cast(credFiles[0]!, [
      '--ciphertext-file',
      ciphertextFile,
      '--receipt-out',
      receiptFile,
      '--log-key',
      server.verifierKey,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const out = first.stdout.trim().split('\n');
    const tracker = /^tracker ([0-9a-f]{64})$/.exec(out[0]!)![1]!;
    expect(out[1]).toMatch(/^index \d+$/);
    expect(out[2]).toBe(`receipt ${receiptFile}`);
    expect(out[3]).toMatch(/^verified inclusion in urna\.localhost\/log at size \d+$/);
    const receipt = readFileSync(receiptFile, 'utf8');
    const verified = verifyReceipt(
      receipt,
      { leafHash: fromHex(tracker) },
      parseVerifierKey(server.verifierKey),
    );
    expect(verified.receipt.index).toBe(Number(out[1]!.split(' ')[1]));
    const record = await getJson<{ leafHash: string; record: { type: string } }>(
      `${log}/records/${verified.receipt.index}`,
    );
    expect(record.leafHash).toBe(tracker);
    expect(toHex(leafHash(utf8(JSON.stringify(record.record))))).toBe(tracker);

    // A re-vote (base64 ciphertext, receipt to <tracker>.receipt in the working directory) supersedes it.
    const revote = await cast(credFiles[0]!, ['--ciphertext-base64', 'AQIDBA=='], dir);
    expect(revote.code, revote.stderr).toBe(0);
    const tracker2 = /^tracker ([0-9a-f]{64})$/m.exec(revote.stdout)![1]!;
    expect(readFileSync(join(dir, `${tracker2}.receipt`), 'utf8')).toMatch(/^c2sp\.org\/tlog-proof@v1\n/);
    expect((await getJson<BallotStatus>(`${log}/ballots/${tracker}`)).status).toBe('superseded');
    expect((await getJson<BallotStatus>(`${log}/ballots/${tracker2}`)).status).toBe('included');
    await ok([
      'cast',
      ...common,
      '--credential',
      keys.voter!.file,
      '--election',
      id,
      '--contests',
      'referendum',
      '--ciphertext-base64',
      'BQYH',
    ]);
    // Not a credential of this election.
    const stranger = await cast(keys.counter!.file, ['--ciphertext-base64', 'AQIDBA==']);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/unknown_credential/);

    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', id, 'close']);

    // report: the protocol's SHA-256 is in the record; counts above the electorate are refused.
    const protocolFile = join(dir, 'protocol.pdf');
    writeFileSync(protocolFile, 'scanned protocol of d0900');
    const report = (district: string, counts: string) =>
      urna([
        'report',
        ...common,
        '--key',
        keys.reporter!.file,
        '--election',
        id,
        '--district',
        district,
        '--contest',
        'riksdag',
        '--stage',
        'final',
        '--counts',
        counts,
        '--blank',
        '2',
        '--invalid',
        '1',
        '--protocol',
        protocolFile,
      ]);
    const reported = await report('d0900', 's=40,m=30');
    expect(reported.code, reported.stderr).toBe(0);
    expect(reported.stdout).toContain(`protocol ${toHex(hash(utf8('scanned protocol of d0900')))}`);
    const over = await report('d0900', 's=60,m=40');
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/over_electorate/);
    const outside = await report('d0001', 's=1,m=1');
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/outside_subtree/);

    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', id, 'final']);
    const summary = await getJson<ElectionSummary>(`${log}/elections/${id}`);
    expect(summary.phase).toBe('final');
    expect(summary.counts).toMatchObject({
      districts: 1503,
      credentials: 4,
      ballots: 3,
      voters: 2,
      counted: 2,
      reports: 1,
    });
    expect(summary.districtRecords.length).toBe(recs.length - 1);
  });

  it('rejects bad command lines with exit code 2', async () => {
    expect((await urna(['election', 'frobnicate'])).code).toBe(2);
    const sideways = await urna(['phase', '--key', keys.authority!.file, '--election', 'x', 'sideways']);
    expect(sideways.code).toBe(2);
    expect(sideways.stderr).toMatch(/sideways/);
    expect(
      (await urna(['cast', '--credential', keys.voter!.file, '--election', 'x', '--contests', 'a'])).code,
    ).toBe(2);
    expect((await urna(['demo', '--log', server.url])).code).toBe(2);
  });

  it('runs a whole synthetic election night with urna demo', async () => {
    const args = [
      'demo',
      '--log',
      server.url,
      '--authority-key',
      keys.authority!.file,
      '--districts',
      '60',
      '--voters',
      '300',
      '--seed',
      'slow-test',
    ];
    const r = await urna(args);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const id = /^demo election (\S+) /.exec(r.stdout)![1]!;
    expect(id).toBe('demo-slow-test');
    for (const stage of ['ballots', 're-votes', 'paper overrides', 'preliminary reports', 'final reports'])
      expect(r.stdout).toMatch(new RegExp(`^${stage}: \\d+ records in [\\d.]+ s \\(\\d+ records/s\\)`, 'm'));
    // The counter's engine: a tally, then the election final, then the final tally.
    expect(r.stdout).toMatch(/^count: tally at index \d+ over the first \d+ records$/m);
    expect(r.stdout).toMatch(/^final count: tally at index \d+ over the first \d+ records \(final\)$/m);
    expect(r.stdout).toMatch(/^ {2}riksdag: 58 of 60 polling districts final, 59 preliminary/m);
    expect(r.stdout).toContain(`${server.url}/elections/${id}`);
    expect(r.stdout).toContain(`${server.url}/checkpoint`);

    const summary = await getJson<ElectionSummary>(`${server.url}/elections/${id}`);
    expect(summary.phase).toBe('final');
    expect(summary.counts).toMatchObject({
      districts: 1 + 21 + 21 + 60,
      credentials: 300,
      // One polling district never reports, one never finally (DEMO_RATES); the correction.
      reports: 59 * 3 + 58 * 3 + 1,
      tallies: 2,
    });
    expect(summary.counts.ballots).toBeGreaterThan(summary.counts.voters);
    expect(summary.counts.overrides).toBeGreaterThan(0);
    expect(summary.tally).not.toBeNull();

    // Running it again resubmits the same records (the same indexes) and does not tally twice.
    const rerun = await urna(args);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/^ballots: \d+ records .*, (\d+) already in the log$/m);
    expect(rerun.stdout).not.toMatch(/tally at index/);
    expect((await getJson<ElectionSummary>(`${server.url}/elections/${id}`)).counts).toEqual(summary.counts);

    // The example trackers it prints have the statuses it says.
    const examples = [...r.stdout.matchAll(/\/ballots\/([0-9a-f]{64})\s+\((\w+)\)/g)];
    expect(examples.map((m) => m[2]).sort()).toEqual(['included', 'overridden', 'superseded']);
    for (const [, tracker, status] of examples)
      expect((await getJson<BallotStatus>(`${server.url}/ballots/${tracker}`)).status).toBe(status);
  });

  it('urna authorities changes what the log trusts, with the log key, while no election is open', async () => {
    const common = ['--log', server.url];
    const logKey = join(dir, 'data', 'log.key');
    // Entry 0: the log record urna serve wrote from --authority.
    const genesis = await getJson<{ record: { type: string; body: { authorities: string[] } } }>(
      `${server.url}/records/0`,
    );
    const a = parseVerifierKey(keys.authority!.vkey);
    expect(genesis.record).toMatchObject({ type: 'log', body: { authorities: [toBase64(a.publicKey)] } });

    const second = { file: join(dir, 'authority2.key'), vkey: '' };
    second.vkey = (await ok(['keygen', 'authority2.example', '--out', second.file])).trim();
    const manifestFile = join(dir, 'second.json');
    const m = manifest('cli-second');
    writeFileSync(
      manifestFile,
      JSON.stringify({ ...m, districts: m.districts.slice(0, 5), title: 'Second' }),
    );
    const create = () =>
      urna(['election', 'create', ...common, '--key', second.file, '--manifest', manifestFile]);
    const untrusted = await create();
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/wrong_role/);

    // Only the log key may change it.
    const byAuthority = await urna([
      'authorities',
      ...common,
      '--key',
      keys.authority!.file,
      '--authority',
      second.vkey,
    ]);
    expect(byAuthority.code).toBe(2); // the log refuses it too (wrong_role: test/helpers/rule-cases.ts)
    expect(byAuthority.stderr).toMatch(
      /--key is the key of authority\.example, but the log .* is urna\.localhost\/log/,
    );

    const vkeyFile = join(dir, 'authority2.vkey');
    writeFileSync(vkeyFile, second.vkey + '\n');
    const added = await ok([
      'authorities',
      ...common,
      '--key',
      logKey,
      '--authority',
      keys.authority!.vkey,
      '--authority',
      vkeyFile,
    ]);
    expect(added).toMatch(/^index \d+ log \(2 authorities\)\n$/);
    expect((await create()).code).toBe(0);
    const trusted = await getJson<{ authorities: string[]; records: number[]; open: number }>(
      `${server.url}/authorities`,
    );
    const b = toBase64(parseVerifierKey(second.vkey).publicKey);
    expect(trusted).toMatchObject({ authorities: [toBase64(a.publicKey), b], open: 0 });
    expect(trusted.records).toHaveLength(2);
    expect(trusted.records[0]).toBe(0);

    // While an election is open, what the log trusts does not change.
    await ok(['phase', ...common, '--key', second.file, '--election', 'cli-second', 'open']);
    const during = await urna([
      'authorities',
      ...common,
      '--key',
      logKey,
      '--authority',
      keys.authority!.vkey,
    ]);
    expect(during.code).toBe(1);
    expect(during.stderr).toMatch(/election_open/);
    await ok(['phase', ...common, '--key', second.file, '--election', 'cli-second', 'close']);
    expect(
      await ok(['authorities', ...common, '--key', logKey, '--authority', keys.authority!.vkey]),
    ).toMatch(/^index \d+ log \(1 authority\)\n$/);
    // A retired authority defines no new election.
    writeFileSync(
      manifestFile,
      JSON.stringify({ ...m, id: 'cli-third', districts: m.districts.slice(0, 5) }),
    );
    const retired = await create();
    expect(retired.code).toBe(1);
    expect(retired.stderr).toMatch(/wrong_role/);
  });
});
