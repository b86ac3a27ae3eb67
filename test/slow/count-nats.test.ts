/**
 * `urna count --nats` against a real nats-server and a replicated `urna
 * serve --nats`: one counter reads the journal (and publishes each count on
 * urna.results.<election>), another reads a mirror over HTTP, and their
 * snapshots agree byte for byte; the message carries the same tally.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../ledger/bytes.js';
import { decodeSignerKey, generateSignerKey } from '../../ledger/note.js';
import { DemoElection } from '../../services/cli/demo-plan.js';
import type { ResultSnapshot } from '../../services/count/counter.js';
import { LogClient } from '../../verifier/client.js';
import { tempDir } from '../helpers/log.js';
import { waitUntil } from '../helpers/mirror.js';
import { startNatsServer, type NatsServer } from '../helpers/nats.js';
import { runUrna, startMirror, startServer, type ServerProcess } from '../helpers/process.js';

let nats: NatsServer;
let dir: string;
let cleanup: () => Promise<void>;
let leader: ServerProcess;
let mirror: ServerProcess;
let nc: NatsConnection;
let demo: DemoElection;

beforeAll(async () => {
  nats = await startNatsServer({ name: 'count' });
  ({ dir, cleanup } = await tempDir('urna-count-nats-'));
  const log = generateSignerKey('count.example/log');
  const keyFile = join(dir, 'log.key');
  await writeFile(keyFile, log.signerKey + '\n', { mode: 0o600 });
  const authority = generateSignerKey('count.example/authority');
  leader = await startServer([
    ...['--data', join(dir, 'leader'), '--key', keyFile, '--nats', nats.url],
    ...['--authority', authority.verifierKey, '--batch-ms', '20'],
  ]);
  mirror = await startMirror([
    '--nats',
    nats.url,
    '--log-key',
    log.verifierKey,
    '--data',
    join(dir, 'mirror'),
  ]);
  nc = await connect({ servers: nats.url });

  demo = new DemoElection({
    seed: 'count-nats',
    authority: decodeSignerKey(authority.signerKey).seed,
    districts: 20,
    voters: 100,
  });
  const client = new LogClient(leader.url);
  for (const r of demo.electionRecords()) await client.submit(r);
  await client.submitMany(
    [...demo.credentials(), demo.phase('open'), ...demo.ballots(1), ...demo.ballots(2), ...demo.overrides()],
    1, // in order: re-votes after first ballots, overrides after both
  );
  await client.submit(demo.phase('close'));
  await client.submitMany(demo.reports('preliminary'), 8);
  await client.submitMany(demo.reports('final'), 8);
  const size = (await client.checkpoint()).checkpoint.size;
  const mirrored = new LogClient(mirror.url);
  await waitUntil(
    async () => (await mirrored.checkpoint()).checkpoint.size === size,
    'the mirror',
    30_000,
    50,
  );
}, 300_000);

afterAll(async () => {
  await nc?.close();
  await mirror?.stop();
  await leader?.stop();
  await nats?.dispose();
  await cleanup?.();
});

describe('urna count --nats', () => {
  it('counts from the journal as a counter of the mirror does, byte for byte, and publishes on urna.results', async () => {
    const messages: Uint8Array[] = [];
    const sub = nc.subscribe(`urna.results.${demo.id}`, { callback: (_e, m) => messages.push(m.data) });
    const common = ['--log-key', leader.verifierKey, '--election', demo.id, '--once'];
    const fromJournal = await runUrna([
      'count',
      '--nats',
      nats.url,
      ...common,
      '--out',
      join(dir, 'journal'),
    ]);
    expect(fromJournal.code, fromJournal.stderr).toBe(0);
    const fromMirror = await runUrna([
      'count',
      '--log',
      mirror.url,
      ...common,
      '--out',
      join(dir, 'mirror-count'),
    ]);
    expect(fromMirror.code, fromMirror.stderr).toBe(0);
    const a = await readFile(join(dir, 'journal', 'latest.json'));
    const b = await readFile(join(dir, 'mirror-count', 'latest.json'));
    expect(a.equals(b)).toBe(true);

    await waitUntil(() => messages.length > 0, 'a results message', 10_000, 20);
    sub.unsubscribe();
    const snapshot = JSON.parse(a.toString()) as ResultSnapshot;
    const message = JSON.parse(fromUtf8(messages[0]!)) as Omit<ResultSnapshot, 'results'> & {
      discrepancies: unknown;
    };
    expect(message.tally).toEqual(snapshot.tally);
    expect(message.log).toEqual(snapshot.log);
    expect(message.discrepancies).toEqual(snapshot.results.discrepancies);
    expect(snapshot.tally!.contests.riksdag!.final.districts).toBe(demo.reporting('final').length);
  });

  it('a log key of another log is refused', async () => {
    const other = generateSignerKey('count.example/other');
    const r = await runUrna([
      'count',
      '--nats',
      nats.url,
      '--log-key',
      other.verifierKey,
      '--election',
      demo.id,
      '--once',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no journal of count.example/other');
  });
});
