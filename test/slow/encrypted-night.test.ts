/**
 * An encrypted election night through the `urna` command against a real
 * `urna serve` over loopback, every step a real process: three guardians
 * (quorum 2) run keygen and the ceremony; voters cast encrypted ballots
 * with `urna cast --choices` (the test keeps the plaintext), re-vote, spoil
 * one ballot with `--challenge` (the log then refuses that very ballot),
 * and one votes on paper (an override, after close, while a guardian is
 * decrypting); paper reports; guardian 1 follows the log with `urna
 * guardian decrypt` and decrypts again after the override, guardian 2 is
 * absent, guardian 3 first runs with a corrupted key share (refused
 * `invalid_proof`, the log unchanged), then with its own. Two `urna count`
 * processes give byte-identical counts whose decrypted e-votes are the
 * ground truth, a third publishes the tally, and `urna verify audit`
 * accepts the log.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../ledger/bytes.js';
import { decodeScalar, encodeScalar, mod } from '../../ledger/group.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { decodeSignerKey } from '../../ledger/note.js';
import { signRecord, type ElectionBody } from '../../ledger/record.js';
import type { BallotStatus } from '../../ledger/rules.js';
import type { ResultSnapshot } from '../../services/count/counter.js';
import { cliLog, encryptedManifest, encryptedRoles, getJson, type CliLog } from '../helpers/cli-election.js';
import type { ServerProcess, UrnaRun } from '../helpers/process.js';

const urna = (args: string[]) => cli.urna(args);
const ok = (args: string[]) => cli.ok(args);

/** POSTs a record to the log: its status and JSON answer. */
async function post(
  bytes: Uint8Array,
): Promise<{ status: number; body: { index?: number; error?: { code: string; message: string } } }> {
  const res = await fetch(`${server.url}/add`, {
    method: 'POST',
    body: bytes as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Awaited<ReturnType<typeof post>>['body'] };
}

/** The size of the log's latest checkpoint. */
async function logSize(): Promise<number> {
  const text = await (await fetch(`${server.url}/checkpoint`)).text();
  return Number(text.split('\n')[1]);
}

/** Polls until the log holds at least `size` entries (at most 60 s). */
async function waitForSize(size: number): Promise<void> {
  const until = Date.now() + 60_000;
  while ((await logSize()) < size) {
    if (Date.now() > until) throw new Error(`the log did not reach ${size} entries`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type RecordView = { record: { type: string; body: { index: number; district: string; changed: number } } };

const ID = 'enc-night-2026';
const GUARDIANS = [1, 2, 3];
let cli: CliLog;
let dir: string;
let server: ServerProcess;
let keys: CliLog['keys'];

beforeAll(async () => {
  cli = await cliLog('urna-encrypted-night-', encryptedRoles(GUARDIANS.length));
  ({ dir, server, keys } = cli);
});

afterAll(() => cli?.close());

const CONTESTS = { riksdag: ['s', 'm'], referendum: ['yes', 'no'] } as const;
type Votes = { [contest: string]: { [option: string]: number } };

function manifest(): ElectionBody {
  return encryptedManifest(ID, keys, {
    guardians: 3,
    quorum: 2,
    districts: [
      { id: 'd1', name: 'Valdistrikt 1' },
      { id: 'd2', name: 'Valdistrikt 2' },
      { id: 'd3', name: 'Valdistrikt 3 (paper only)' },
    ],
  });
}

/** Paper counts per district and contest: preliminary, and final where it differs. */
const PAPER: {
  [district: string]: { [contest: string]: { preliminary: Votes[string]; final: Votes[string] } };
} = {
  d1: {
    riksdag: { preliminary: { s: 30, m: 20 }, final: { s: 30, m: 20 } },
    referendum: { preliminary: { yes: 25, no: 20 }, final: { yes: 25, no: 20 } },
  },
  d2: {
    riksdag: { preliminary: { s: 10, m: 40 }, final: { s: 11, m: 40 } },
    referendum: { preliminary: { yes: 15, no: 30 }, final: { yes: 15, no: 30 } },
  },
  d3: {
    riksdag: { preliminary: { s: 5, m: 5 }, final: { s: 5, m: 5 } },
    referendum: { preliminary: { yes: 3, no: 7 }, final: { yes: 3, no: 7 } },
  },
};

describe('an encrypted election night with urna guardian decrypt and urna count', () => {
  it('decrypts the districts with two of three guardians, through a spoiled ballot, a re-vote, an override and a cheating share', async () => {
    const log = server.url;
    const common = ['--log', log];
    const withKey = [...common, '--log-key', server.verifierKey];
    const manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify(manifest()));
    await ok(['election', 'create', ...common, '--key', keys.authority!.file, '--manifest', manifestFile]);

    // Four voters in d1, three in d2, none in d3 (paper only).
    const voters: { [name: string]: { file: string; district: string } } = {};
    await Promise.all(
      (
        [
          ['d1', ['A', 'B', 'C', 'D']],
          ['d2', ['E', 'F', 'G']],
        ] as const
      ).map(async ([district, names]) => {
        const out = join(dir, `credentials-${district}`);
        await ok([
          'credentials',
          'issue',
          ...common,
          '--key',
          keys.registrar!.file,
          '--election',
          ID,
          '--count',
          String(names.length),
          '--district',
          district,
          '--out',
          out,
        ]);
        readdirSync(out).forEach((f, i) => (voters[names[i]!] = { file: join(out, f), district }));
      }),
    );

    // The key ceremony: three guardians at once.
    const secrets = GUARDIANS.map((i) => join(dir, `guardian-${i}.secret`));
    await Promise.all(secrets.map((file) => ok(['guardian', 'keygen', '--quorum', '2', '--out', file])));
    const ceremonies = await Promise.all(
      GUARDIANS.map((i) =>
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
          '60',
          '--poll',
          '100',
        ]),
      ),
    );
    for (const r of ceremonies) expect(r.code, r.stdout + r.stderr).toBe(0);
    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', ID, 'open']);

    const decrypt = (i: number, extra: string[]) =>
      urna([
        'guardian',
        'decrypt',
        ...withKey,
        '--election',
        ID,
        '--guardian',
        secrets[i - 1]!,
        '--key',
        keys[`guardian-${i}`]!.file,
        '--poll',
        '100',
        ...extra,
      ]);

    // Before voting closed a guardian decrypts nothing.
    const sizeOpen = await logSize();
    const early = await decrypt(2, ['--once']);
    expect(early.code, early.stdout + early.stderr).toBe(1);
    expect(early.stderr).toMatch(/voting has not closed: election enc-night-2026 is in open/);
    expect(early.stdout).toBe('');
    expect(await logSize()).toBe(sizeOpen);

    const cast = (voter: string, choices: string, extra: string[] = []) =>
      urna([
        'cast',
        ...withKey,
        '--credential',
        voters[voter]!.file,
        '--election',
        ID,
        '--district',
        voters[voter]!.district,
        '--choices',
        choices,
        '--receipt-out',
        join(dir, `${voter}-${Math.random().toString(36).slice(2)}.receipt`),
        ...extra,
      ]);
    const spoiledFile = join(dir, 'D.spoiled.json');
    const first = await Promise.all([
      cast('A', 'riksdag=s,referendum=yes'),
      cast('B', 'riksdag=m'), // re-votes below
      cast('C', 'riksdag=m,referendum=yes'), // votes on paper after close
      cast('D', 'riksdag=s,referendum=no', ['--challenge', '--spoiled-out', spoiledFile]), // casts below
      cast('E', 'riksdag=s'),
      cast('F', 'referendum='),
      cast('G', 'riksdag=m,referendum=no'),
    ]);
    for (const r of first) expect(r.code, r.stdout + r.stderr).toBe(0);
    const second = await Promise.all([cast('B', 'riksdag=s,referendum=no'), cast('D', 'riksdag=m')]);
    for (const r of second) expect(r.code, r.stdout + r.stderr).toBe(0);
    // The ground truth: the last ballot of each credential not overridden; the spoiled one never counts.
    const truth: { [district: string]: Votes } = {
      d1: { riksdag: { s: 2, m: 1 }, referendum: { yes: 1, no: 1 } }, // A, B's re-vote, D's second ballot
      d2: { riksdag: { s: 1, m: 1 }, referendum: { yes: 0, no: 1 } }, // E, F blank, G
    };

    // The challenge: published as a spoiled record, so that very ballot is refused, and the log is unchanged.
    const challenge = first[3]!;
    const tracker = /^tracker ([0-9a-f]{64})$/m.exec(challenge.stdout)![1]!;
    const spoiledIndex = Number(/^index (\d+) spoiled$/m.exec(challenge.stdout)![1]);
    expect(challenge.stdout).toMatch(/^verified inclusion in /m);
    expect(challenge.stdout).toMatch(
      /^spoiled: published, so this ballot never counts \(riksdag: s; referendum: no\)$/m,
    );
    expect(await getJson<BallotStatus>(`${log}/ballots/${tracker}`)).toMatchObject({
      status: 'spoiled',
      index: spoiledIndex,
    });
    const { ballot } = JSON.parse(readFileSync(spoiledFile, 'utf8')) as { ballot: unknown };
    const sizeBefore = await logSize();
    const refused = await post(canonicalBytes(ballot as Parameters<typeof canonicalBytes>[0]));
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe('spoiled_ballot');
    expect(await logSize()).toBe(sizeBefore);
    const verified = await urna(['verify', 'spoiled', spoiledFile, ...withKey]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain(
      `the log holds its spoiled record at index ${spoiledIndex} (proven under the checkpoint)`,
    );
    const inclusion = await urna(['verify', 'inclusion', tracker, ...withKey]);
    expect(inclusion.code).toBe(1);
    expect(inclusion.stdout + inclusion.stderr).toMatch(/it was spoiled/);

    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', ID, 'close']);
    const protocol = join(dir, 'protocol.pdf');
    writeFileSync(protocol, utf8('a scanned protocol'));
    const report = (district: string, contest: string, stage: 'preliminary' | 'final') =>
      ok([
        'report',
        ...common,
        '--key',
        keys.reporter!.file,
        '--election',
        ID,
        '--district',
        district,
        '--contest',
        contest,
        '--stage',
        stage,
        '--counts',
        Object.entries(PAPER[district]![contest]![stage])
          .map(([o, n]) => `${o}=${n}`)
          .join(','),
        '--protocol',
        protocol,
      ]);
    const reports = (stage: 'preliminary' | 'final') =>
      Promise.all(Object.keys(PAPER).flatMap((d) => Object.keys(CONTESTS).map((c) => report(d, c, stage))));
    await reports('preliminary');

    // Guardian 1 follows the log: it decrypts d1 and d2 ...
    const sizeClosed = await logSize();
    const guardian1 = decrypt(1, ['--timeout', '90']);
    await waitForSize(sizeClosed + 2);
    const records = async (from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, (_, i) => getJson<RecordView>(`${log}/records/${from + i}`)),
      );
    const firstRound = await records(sizeClosed, sizeClosed + 2);
    expect(firstRound.map((r) => [r.record.type, r.record.body.index, r.record.body.district])).toEqual([
      ['decryption', 1, 'd1'],
      ['decryption', 1, 'd2'],
    ]);

    // ... then C votes on paper: d1's sums change, and guardian 1 decrypts them again.
    const reporterSeed = decodeSignerKey(readFileSync(keys.reporter!.file, 'utf8').trim()).seed;
    const credentialKey = toBase64(decodeSignerKey(readFileSync(voters.C!.file, 'utf8').trim()).publicKey);
    const override = await post(
      signRecord(
        { v: 1, type: 'override', election: ID, body: { credential: credentialKey, district: 'd1' } },
        reporterSeed,
      ),
    );
    expect(override.status, JSON.stringify(override.body)).toBe(201);
    const overrideIndex = override.body.index!;
    await waitForSize(overrideIndex + 2);
    const [again] = await records(overrideIndex + 1, overrideIndex + 2);
    expect(again!.record.body).toMatchObject({ index: 1, district: 'd1', changed: overrideIndex });

    // Guardian 3 with a corrupted key share: every decryption is refused, naming it; the log is unchanged.
    const secret3 = readFileSync(secrets[2]!, 'utf8');
    const file3 = JSON.parse(secret3) as { keyShare: string };
    const corrupted = toBase64(encodeScalar(mod(decodeScalar(fromBase64(file3.keyShare)) + 1n)));
    writeFileSync(secrets[2]!, JSON.stringify({ ...file3, keyShare: corrupted }, null, 2));
    const sizeHonest = await logSize();
    const cheat = await decrypt(3, ['--once']);
    expect(cheat.code, cheat.stdout + cheat.stderr).toBe(1);
    for (const d of ['d1', 'd2'])
      expect(cheat.stderr).toMatch(
        new RegExp(
          `district ${d}: the log refuses the decryption: .*invalid_proof: decryption: guardian 3's share for district ${d}, contest \\S+, option \\S+ does not verify`,
        ),
      );
    expect(cheat.stderr).toMatch(/the log refused 2 decryption\(s\) by guardian 3/);
    expect(cheat.stdout).toMatch(/^guardian 3: 0 decryption\(s\) published now; 0 of 2 districts/m);
    expect(await logSize()).toBe(sizeHonest);

    // Guardian 3 with its own key share; the final reports, and the election goes final.
    writeFileSync(secrets[2]!, secret3);
    const guardian3 = decrypt(3, ['--timeout', '90']);
    await reports('final');
    await ok(['phase', ...common, '--key', keys.authority!.file, '--election', ID, 'final']);
    const [one, three] = (await Promise.all([guardian1, guardian3])) as [UrnaRun, UrnaRun];
    expect(one.code, one.stdout + one.stderr).toBe(0);
    expect(one.stdout.match(/^index \d+ decryption d\d/gm)).toHaveLength(3);
    expect(one.stdout).toMatch(/^index \d+ decryption d1 \(3 ballots, sums as of record \d+\)$/m);
    expect(one.stdout).toMatch(
      /2 of 2 districts decrypted by this guardian, 2 by a quorum \(election \S+ final/,
    );
    expect(three.code, three.stdout + three.stderr).toBe(0);
    expect(three.stdout.match(/^index \d+ decryption d\d/gm)).toHaveLength(2);
    expect(three.stdout).toMatch(/2 of 2 districts decrypted by this guardian, 2 by a quorum/);

    // Two counters, byte for byte the same; the e-votes are the ground truth.
    const outs = ['count-a', 'count-b'].map((d) => join(dir, d));
    outs.forEach((d) => mkdirSync(d));
    const counts = await Promise.all(
      outs.map((out) => urna(['count', ...withKey, '--election', ID, '--once', '--out', out])),
    );
    for (const r of counts) expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(counts[1]!.stdout).toBe(counts[0]!.stdout);
    const [a, b] = outs.map((d) => readFileSync(join(d, 'latest.json')));
    expect(Buffer.compare(a!, b!)).toBe(0);
    const snapshot = JSON.parse(a!.toString()) as ResultSnapshot;
    const tally = snapshot.tally!;
    for (const [contest, options] of Object.entries(CONTESTS)) {
      const c = tally.contests[contest]!;
      for (const o of options) {
        const evotes = truth.d1![contest]![o]! + truth.d2![contest]![o]!;
        const paper = Object.values(PAPER).reduce((n, d) => n + d[contest]!.final[o]!, 0);
        expect(c.eballots.decrypted!.votes[o], `${contest} ${o}`).toBe(evotes);
        expect(c.counted.votes[o]! - paper, `${contest} ${o}`).toBe(evotes);
      }
      expect(c.eballots.decrypted!.districts).toBe(2);
      expect(c.provisional).toBe(false);
    }
    expect(tally.contests.riksdag!.eballots.ballots).toBe(5); // A, B, D, E, G (C overridden, D's spoiled one not cast)
    expect(tally.contests.referendum!.eballots.ballots).toBe(4); // A, B, F (blank), G

    // The counter publishes the tally, and an audit of the whole log accepts it.
    const published = await urna([
      'count',
      ...withKey,
      '--election',
      ID,
      '--once',
      '--key',
      keys.counter!.file,
    ]);
    expect(published.code, published.stdout + published.stderr).toBe(0);
    expect(published.stderr).toMatch(/tally at index \d+ .*\(final\)/);
    const audit = await urna(['verify', 'audit', ...withKey]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });
});
