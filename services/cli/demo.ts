/**
 * `urna demo --authority-key SKEYFILE [--log URL] [--districts N] [--voters N]
 * [--seed S] [--election ID] [--concurrency N]`: a whole synthetic election
 * night (demo-plan.ts) submitted to a running log, stage by stage, with
 * progress lines and, at the end, where to look.
 *
 * Every record but the tallies is a function of the seed and the authority
 * key, and the log answers an identical resubmission with the same index, so
 * running the demo again with the same seed resumes an interrupted run.
 */
import { LogError, type LogClient, type SubmitAnswer } from '../../verifier/client.js';
import { LOG_FLAG, logClient, readSigningKey, readVerifierKeyArg, say } from './client-common.js';
import type { Command, Parsed } from './command.js';
import { DEMO_CONTESTS, DEMO_DEFAULTS, DemoElection } from './demo-plan.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { ED25519_TYPE, formatVerifierKey } from '../../ledger/note.js';
import { fromBase64 } from '../../ledger/bytes.js';
import { LogReader } from '../../verifier/reader.js';
import { Replayer } from '../../verifier/replayer.js';
import { stateKey, type EncryptedSumState } from '../../ledger/rules.js';
import { UsageError } from './usage-error.js';
import { Counter } from '../count/counter.js';
import { httpSource } from '../count/sources.js';
import { summary } from './count.js';
import { nativeEd25519 } from '../crypto/native-ed25519.js';

const PROGRESS_EVERY_MS = 2000;

function rate(n: number, ms: number): string {
  return `${Math.round((n * 1000) / Math.max(ms, 1))} records/s`;
}

/** Submits one stage with progress lines; returns its results. */
async function runStage(
  client: LogClient,
  name: string,
  records: Iterable<Uint8Array>,
  total: number | undefined,
  concurrency: number,
): Promise<SubmitAnswer[]> {
  const start = performance.now();
  let done = 0;
  const timer = setInterval(() => {
    const of = total === undefined ? '' : `/${total}`;
    say(`  ${name}: ${done}${of} (${rate(done, performance.now() - start)})`);
  }, PROGRESS_EVERY_MS);
  timer.unref();
  try {
    const results = await client.submitMany(records, concurrency, { onProgress: (n) => (done = n) });
    const ms = performance.now() - start;
    const dups = results.filter((r) => r.duplicate).length;
    say(
      `${name}: ${results.length} records in ${(ms / 1000).toFixed(1)} s (${rate(results.length, ms)})` +
        (dups ? `, ${dups} already in the log` : ''),
    );
    return results;
  } finally {
    clearInterval(timer);
  }
}

/**
 * The log's verifier key as its entry 0 states it: the `log` record is
 * signed by the log key and names the origin. Trusted on first use (a demo
 * convenience; a real counter is given --log-key).
 */
async function logKeyOfEntry0(client: LogClient): Promise<string> {
  const { record } = await client.record(0);
  if (!record || record.type !== 'log') throw new Error('entry 0 of the log is not a log record');
  return formatVerifierKey(record.body.origin, ED25519_TYPE, fromBase64(record.signer));
}

/**
 * The decrypting guardians' `decryption` records of every polling district's
 * encrypted sums as the log holds them now (replayed, authenticated, as
 * `urna guardian decrypt` reads them), but those each already decrypted.
 */
async function decryptions(demo: DemoElection, client: LogClient, logKey: string): Promise<Uint8Array[]> {
  const replayer = new Replayer({ logKey });
  await replayer.catchUp(new LogReader(client.baseUrl, { logKey }));
  const out: Uint8Array[] = [];
  for (const d of demo.polling) {
    const sums = replayer.state.read(stateKey.encryptedSum(demo.id, d.id)) as EncryptedSumState | undefined;
    if (!sums) continue;
    for (const g of demo.decryptingGuardians)
      if (!sums.decryptions?.[g]) out.push(demo.decryption(g, d.id, sums));
  }
  return out;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a whole synthetic election night against a running log',
  description: `Defines an election of DISTRICTS polling districts (with counties and municipalities above them),
    issues VOTERS credentials, opens voting, casts ballots, re-votes and paper overrides, closes, reports preliminary
    and final counts (some districts never report, some never finally) with a correction, then counts it as urna count
    does, with the election's counter key: a tally, the election final, the final tally; stage by stage, with progress
    lines and, at the end, the result and the URLs to look at. The log must trust the authority key (urna serve
    --authority VKEY).

    With --guardians N the election is encrypted: the guardians hold a key ceremony before voting opens, every
    ballot is encrypted and proven on the client (about 0.2 s each on one core), and after the reports a quorum of
    guardians decrypts each polling district's sums, so the tally counts the e-votes with the paper votes. The
    nonces derive from the seed, so the demo is reproducible and its ballots are not secret.

    Every record but the tallies is a function of the seed and the authority key, and the log answers an identical
    resubmission with the same index, so running the demo again with the same seed resumes an interrupted run (and
    does not tally a finished one again).`,
  flags: [
    {
      name: 'authority-key',
      value: 'SKEYFILE',
      required: true,
      help: "the election authority's signer key file (every other role key is derived from it and the seed)",
    },
    LOG_FLAG,
    {
      name: 'log-key',
      value: 'VKEY',
      help: "the log's verifier key, which the counting checks checkpoints with (default: the key that signed entry 0, trusted on first use)",
    },
    {
      name: 'districts',
      value: 'N',
      default: String(DEMO_DEFAULTS.districts),
      help: 'polling districts (at least 1)',
    },
    { name: 'voters', value: 'N', default: String(DEMO_DEFAULTS.voters), help: 'voters (credentials)' },
    {
      name: 'seed',
      value: 'S',
      default: DEMO_DEFAULTS.seed,
      help: 'what every generated record derives from',
    },
    { name: 'election', value: 'ID', help: "the election's id (default: demo-SEED, if that is a valid id)" },
    { name: 'concurrency', value: 'N', default: '64', help: 'submissions in flight at most (at least 1)' },
    {
      name: 'guardians',
      value: 'N',
      default: '0',
      help: 'an encrypted election with N guardians (0: opaque ballots): a key ceremony, ballots encrypted with proofs, the sums decrypted by a quorum',
    },
    {
      name: 'quorum',
      value: 'K',
      help: 'guardians needed to decrypt (default: a majority of --guardians); the others stay away',
    },
  ],
  run: runDemo,
};

async function runDemo(p: Parsed): Promise<number> {
  setEd25519Backend(nativeEd25519);
  const authority = await readSigningKey(p.required('authority-key'), '--authority-key');
  const concurrency = p.int('concurrency', 1)!;
  const election = p.string('election');
  const guardians = p.int('guardians', 0)!;
  const quorum = p.int('quorum', 1) ?? Math.floor(guardians / 2) + 1;
  if (guardians > 0 && quorum > guardians) throw new UsageError('--quorum is more than --guardians');
  if (guardians === 0 && p.string('quorum') !== undefined) throw new UsageError('--quorum needs --guardians');
  const demo = new DemoElection({
    ...(guardians > 0 ? { guardians: { count: guardians, quorum } } : {}),
    seed: p.string('seed')!,
    authority: authority.seed,
    districts: p.int('districts', 1)!,
    voters: p.int('voters')!,
    ...(election === undefined ? {} : { election }),
  });
  const client = await logClient(p.required('log'));
  say(
    `demo election ${demo.id} (seed ${demo.seed}) on ${client.baseUrl}: ${demo.body.districts.length} districts ` +
      `(${demo.polling.length} polling districts), ${demo.voters.length} voters, contests ${DEMO_CONTESTS.join(', ')}`,
  );
  const started = performance.now();
  let submitted = 0;
  const stage = async (
    name: string,
    records: Iterable<Uint8Array>,
    total?: number,
    parallel = concurrency,
  ) => {
    const results = await runStage(client, name, records, total, parallel);
    submitted += results.length;
    return results;
  };

  try {
    // Districts records may name parents from the records before them: one at a time.
    const election = await stage('election and districts', demo.electionRecords(), undefined, 1);
    await stage('credentials', demo.credentials());
    // Each step of the ceremony waits for every guardian's step before it: one at a time.
    if (demo.encrypted) await stage('key ceremony', demo.ceremony(), undefined, 1);
    await stage('phase open', [demo.phase('open')]);
    await stage('ballots', demo.ballots(1), demo.ballotVoters(1).length);
    // After every first ballot, so that each re-vote is its credential's last ballot.
    await stage('re-votes', demo.ballots(2), demo.ballotVoters(2).length);
    // After the re-votes: an overridden credential can cast no more ballots.
    await stage('paper overrides', demo.overrides(), demo.overriddenVoters().length);
    await stage('phase close', [demo.phase('close')]);
    await stage('preliminary reports', demo.reports('preliminary'), demo.reportCount('preliminary'));
    await stage('final reports', demo.reports('final'), demo.reportCount('final'));
    const correction = demo.correction();
    await stage(`correction (${correction.district}/${correction.contest})`, [correction.record]);
    // The counter counts the night (services/count/): a tally now, the
    // election final, and the final tally. Each submission was answered once
    // signed, so the latest checkpoint covers it. A rerun of a finished demo
    // resubmits everything above (the same indexes), and the counter finds
    // that the last tally counted every change, so it appends none.
    const logKey = p.string('log-key')
      ? await readVerifierKeyArg(p.string('log-key')!)
      : await logKeyOfEntry0(client);
    if (demo.encrypted) await stage('decryptions', await decryptions(demo, client, logKey));
    const count = async (label: string) => {
      const counter = new Counter({
        source: httpSource(new LogReader(client.baseUrl, { logKey })),
        logKey,
        election: demo.id,
        signer: { seed: demo.counterSeed, key: demo.body.roles.counter },
        submit: client,
        intervalMs: 0,
        say: (line) => say(`${label}: ${line}`),
      });
      return counter.round();
    };
    const before = await client.election(demo.id);
    if (before.phase !== 'final') {
      await count('count');
      await stage('phase final', [demo.phase('final')]);
    }
    const last = await count('final count');
    say(...summary(last).map((l) => `  ${l}`));
    const ms = performance.now() - started;
    say(`done: ${submitted} records in ${(ms / 1000).toFixed(1)} s (${rate(submitted, ms)})`);
    try {
      const summary = await client.election(demo.id);
      say(`election ${demo.id}: phase ${summary.phase}, counts ${JSON.stringify(summary.counts)}`);
    } catch (e) {
      say(`(could not read the election summary: ${e instanceof Error ? e.message : e})`);
    }
    say('', 'where to look:', `  election    ${client.url(`elections/${demo.id}`)}`);
    const examples = demo.exampleTrackers();
    for (const [status, tracker] of Object.entries(examples))
      say(`  ballot      ${client.url(`ballots/${tracker}`)}  (${status})`);
    say(
      `  records     ${client.url(`records/${election[0]!.index}`)}  (the election record)`,
      `  checkpoint  ${client.url('checkpoint')}`,
      `  web page    ${client.url(`web/${examples.included ? `#tracker=${examples.included}` : ''}`)}  (a browser checks the ballot, and the log, there)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof LogError && e.code === 'wrong_role' && submitted === 0)
      say(`hint: does the log trust this authority? Start it with --authority ${authority.verifierKey}`);
    throw e;
  }
}
