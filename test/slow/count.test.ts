/**
 * `urna count` against a real `urna serve` on loopback, through an election
 * night of the demo generator: a live counter appends tallies the log
 * admits (each the replay's), and the final one after `final`; a second
 * counter started from an empty state at the end, and a third reading a
 * static copy of the tiles, publish byte-identical snapshots at the same
 * size; a forged record in the copy stops the counter with its index (exit
 * 1); a tally the replay does not give is refused by the log; bad input
 * (unknown election, another log key, a key that is not the counter's, an
 * unreachable source) exits 2 with a clear message; the HTTP interface
 * serves the files with cache headers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../ledger/bytes.js';
import { ED25519_TYPE, formatSignerKey } from '../../ledger/note.js';
import { decodeSignerKey } from '../../ledger/note.js';
import { signRecord, type TallyBody } from '../../ledger/record.js';
import { parseEntryBundle, tilePath, ENTRIES_LEVEL, TILE_WIDTH } from '../../ledger/tile.js';
import type { ElectionSummary } from '../../ledger/rules.js';
import { DemoElection } from '../../services/cli/demo-plan.js';
import { LogClient } from '../../verifier/client.js';
import type { ResultSnapshot } from '../../services/count/counter.js';
import { readKeyFile } from '../../services/key-file.js';
import { tempDir } from '../helpers/log.js';
import { waitUntil } from '../helpers/mirror.js';
import { runUrna, startListening, startServer, URNA_BIN, type ServerProcess } from '../helpers/process.js';
import { copyTiles, serveDir } from '../helpers/static-copy.js';

let dir: string;
let cleanup: () => Promise<void>;
let server: ServerProcess;
let client: LogClient;
let demo: DemoElection;
let counterKey: string;
let live: ServerProcess;
const outLive = () => join(dir, 'live');

async function snapshotFile(out: string, name: string): Promise<Buffer> {
  return readFile(join(out, name));
}

/** `urna count --once` of the demo's election from `log`, writing to `out`. */
function countOnce(log: string, out: string) {
  return runUrna([
    'count',
    '--log',
    log,
    '--log-key',
    server.verifierKey,
    '--election',
    demo.id,
    '--once',
    '--out',
    out,
  ]);
}

async function electionSummary(): Promise<ElectionSummary> {
  return client.election(demo.id);
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-count-'));
  server = await startServer(['--data', join(dir, 'data')]);
  client = new LogClient(server.url);
  const authority = decodeSignerKey(await readKeyFile(join(dir, 'data', 'authority.key')));
  demo = new DemoElection({ seed: 'count', authority: authority.seed, districts: 40, voters: 200 });
  counterKey = join(dir, 'counter.key');
  await writeFile(counterKey, formatSignerKey('counter.example', ED25519_TYPE, demo.counterSeed) + '\n', {
    mode: 0o600,
  });
  const one = async (records: Iterable<Uint8Array>) => {
    for (const r of records) await client.submit(r);
  };
  await one(demo.electionRecords());
  await client.submitMany(demo.credentials(), 16);
  await one([demo.phase('open')]);
  await client.submitMany(demo.ballots(1), 16);
  await client.submitMany(demo.ballots(2), 16);
  await client.submitMany(demo.overrides(), 16);
  await one([demo.phase('close')]);

  // The live counter starts mid-night, before any report.
  live = await startListening(
    [
      URNA_BIN,
      'count',
      '--log',
      server.url,
      '--log-key',
      server.verifierKey,
      '--election',
      demo.id,
      '--key',
      counterKey,
      '--interval',
      '1',
      '--out',
      outLive(),
      '--listen',
      '127.0.0.1:0',
    ],
    {},
  );
  await client.submitMany(demo.reports('preliminary'), 16);
  // A provisional tally appended while reports come in.
  await waitUntil(async () => (await electionSummary()).tally !== null, 'a first tally', 30_000, 100);
  await client.submitMany(demo.reports('final'), 16);
  await client.submit(demo.correction().record);
  await waitUntil(
    async () => {
      const s = await electionSummary();
      return s.tally !== null && s.tally.size > (s.changed ?? 0);
    },
    'a tally over every report',
    30_000,
    100,
  );
  await client.submit(demo.phase('final'));
  await waitUntil(
    async () => {
      const s = await electionSummary();
      return s.tally !== null && s.tally.size > s.phases.final!;
    },
    'the final tally',
    30_000,
    100,
  );
}, 300_000);

afterAll(async () => {
  await live?.stop();
  await server?.stop();
  await cleanup?.();
});

describe('urna count', () => {
  it('appends tallies the log admits, each equal to the counter’s snapshot at its size, the last one final', async () => {
    const s = await electionSummary();
    expect(s.counts.tallies).toBeGreaterThanOrEqual(3);
    const { record } = await client.record(s.tally!.index);
    const body = record!.body as TallyBody;
    expect(body.phase).toBe('final');
    expect(body.size).toBe(s.tally!.size);
    const snapshot = JSON.parse(
      (await snapshotFile(outLive(), `${body.size}.json`)).toString(),
    ) as ResultSnapshot;
    expect(snapshot.tally).toEqual(body);
    // The plan's ground truth, figure by figure.
    const truth = demo.groundTruth();
    for (const [c, t] of Object.entries(truth)) {
      const got = body.contests[c]!;
      expect({
        preliminary: got.preliminary,
        final: got.final,
        counted: got.counted,
        eballots: got.eballots.ballots,
      }).toEqual(t);
    }
  });

  it('a counter from an empty state and one from a static copy of the tiles agree byte for byte', async () => {
    const size = (await client.checkpoint()).checkpoint.size;
    await waitUntil(
      async () =>
        snapshotFile(outLive(), `${size}.json`).then(
          () => true,
          () => false,
        ),
      `the live counter's count at ${size}`,
      30_000,
      100,
    );
    const fresh = join(dir, 'fresh');
    const r = await countOnce(server.url, fresh);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`counted over the first ${size} records`);
    expect(r.stdout).toMatch(/riksdag: \d+ of 40 polling districts final/);
    const liveBytes = await snapshotFile(outLive(), `${size}.json`);
    expect((await snapshotFile(fresh, 'latest.json')).equals(liveBytes)).toBe(true);

    const copy = join(dir, 'copy');
    await copyTiles(server.url, copy);
    const files = await serveDir(copy);
    try {
      const out = join(dir, 'from-copy');
      const c = await countOnce(files.url, out);
      expect(c.code, c.stderr).toBe(0);
      expect((await snapshotFile(out, 'latest.json')).equals(liveBytes)).toBe(true);

      // A forged record in the copy's first bundle: the counter stops at its index, counting nothing.
      const bundle = { level: ENTRIES_LEVEL, index: 0, width: TILE_WIDTH };
      const file = join(copy, tilePath(bundle));
      const data = new Uint8Array(await readFile(file));
      const entries = parseEntryBundle(data, TILE_WIDTH);
      const text0 = (e: Uint8Array) => new TextDecoder().decode(e);
      const target = entries.findIndex((e) => text0(e).includes('"district":"v0001"'));
      expect(target).toBeGreaterThan(0);
      let offset = 0;
      for (let i = 0; i < target; i++) offset += 2 + entries[i]!.length;
      const forged = utf8(text0(entries[target]!).replace('"district":"v0001"', '"district":"v0002"'));
      expect(forged.length).toBe(entries[target]!.length);
      data.set(forged, offset + 2);
      await writeFile(file, data);
      const bad = join(dir, 'bad');
      const f = await countOnce(files.url, bad);
      expect(f.code, f.stderr).toBe(1);
      expect(f.stderr).toContain(`entry ${target} does not authenticate`);
      await expect(readFile(join(bad, 'latest.json'))).rejects.toThrow();
    } finally {
      await files.close();
    }
  });

  it('the log refuses a tally that replaying the log does not give', async () => {
    const size = (await client.checkpoint()).checkpoint.size;
    const snapshot = JSON.parse((await snapshotFile(outLive(), 'latest.json')).toString()) as ResultSnapshot;
    expect(snapshot.log.size).toBe(size);
    const body = structuredClone(snapshot.tally!);
    body.contests.riksdag!.counted.votes.s! += 1;
    const res = await fetch(`${server.url}/add`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from(signRecord({ v: 1, type: 'tally', election: demo.id, body }, demo.counterSeed)),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('wrong_tally');
    expect((await client.checkpoint()).checkpoint.size).toBe(size);
  });

  it('serves the snapshots with cache headers', async () => {
    const latest = await fetch(`${live.url}/latest.json`);
    expect(latest.status).toBe(200);
    expect(latest.headers.get('cache-control')).toBe('no-cache');
    const etag = latest.headers.get('etag')!;
    const snapshot = (await latest.json()) as ResultSnapshot;
    expect(etag).toBe(`"${snapshot.log.size}"`);
    expect((await fetch(`${live.url}/latest.json`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const fixed = await fetch(`${live.url}/${snapshot.log.size}.json`);
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('cache-control')).toContain('immutable');
    expect(Buffer.from(await fixed.arrayBuffer()).equals(await snapshotFile(outLive(), 'latest.json'))).toBe(
      true,
    );
    expect((await fetch(`${live.url}/1.json`)).status).toBe(404);
    expect((await fetch(`${live.url}/healthz`)).status).toBe(200);
  });

  it('bad input exits 2 with a clear message', async () => {
    const base = ['count', '--log', server.url, '--log-key', server.verifierKey, '--once'];
    const unknown = await runUrna([...base, '--election', 'no-such-election']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('election no-such-election is not in the log');
    const other = (await runUrna(['keygen', 'other.example', '--out', join(dir, 'other.key')])).stdout.trim();
    const wrongKey = await runUrna([
      'count',
      '--log',
      server.url,
      '--log-key',
      other,
      '--once',
      '--election',
      demo.id,
    ]);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain('does not verify with --log-key');
    const notCounter = await runUrna([...base, '--election', demo.id, '--key', join(dir, 'other.key')]);
    expect(notCounter.code).toBe(2);
    expect(notCounter.stderr).toContain(`is not the counter of ${demo.id}`);
    const down = await runUrna([
      'count',
      '--log',
      'http://127.0.0.1:9',
      '--log-key',
      server.verifierKey,
      '--once',
      '--election',
      demo.id,
    ]);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('does not answer');
    const neither = await runUrna(['count', '--log-key', server.verifierKey, '--election', demo.id]);
    expect(neither.code).toBe(2);
  });
});
