/** `urna count`: the counting service (services/count/). */
import { LogError, LogClient } from '../../verifier/client.js';
import { LogReader } from '../../verifier/reader.js';
import { ReplayError } from '../../verifier/replayer.js';
import { DEFAULT_DISCREPANCY_MARGIN } from '../../ledger/results.js';
import { connect, type NatsConnection } from 'nats';
import { canonicalBytes } from '../../ledger/jcs.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { useNativeCrypto } from '../crypto/native.js';
import { CheckpointFeed } from '../journal/checkpoints.js';
import { Journal, JournalUnavailableError } from '../journal/journal.js';
import { journalStreamName } from '../journal/subjects.js';
import { httpSource, JournalSource, type CountSource } from '../count/sources.js';
import { RecordPool } from '../crypto/record-pool.js';
import { buildCountApp } from '../count/http.js';
import { Counter, CountError, type ResultSnapshot } from '../count/counter.js';
import { DEFAULT_LOG_URL, LOG_KEY_FLAG, readSigningKey, readVerifierKeyArg, say } from './client-common.js';
import type { Command, Flag, Parsed } from './command.js';
import { parseListen } from './serve.js';
import { UsageError } from './usage-error.js';

/** `--margin SHARE`: what counts as a discrepancy between a district's preliminary and final reports. */
export const MARGIN_FLAG: Flag = {
  name: 'margin',
  value: 'SHARE',
  default: String(DEFAULT_DISCREPANCY_MARGIN),
  help: "a final report changing more than this share of the preliminary one's votes is a discrepancy",
};

export const countCommand: Command = {
  name: 'count',
  summary: 'replays the log, counts the election, publishes the tally and the seats',
  description: `Replays the log from its first record (--log: the log, a mirror or any static copy of the tiles,
    through the authenticated reader; --nats: a replicated log's journal, as mirrors read it), checking every record's signature and rule and every checkpoint's root, then follows
    it every --interval. Each count is the tally (per contest: preliminary, final and counted sums, e-ballots,
    reporting progress, the seats by the contest's method, provisional until every polling district reported finally)
    and the results district by district with their record indexes and the discrepancies. It is written to --out as
    latest.json and one immutable SIZE.json per counted size, served by --listen, and with --nats published on urna.results.ID (without the district detail). With --key (the election's
    counter), it appends a signed tally record whenever the count changed since the last one and --interval has passed,
    and once after the election is final; the log admits it only if it is what replaying the log gives. A record that
    does not authenticate stops it with an error naming the index. --once: count up to the latest checkpoint, append a
    tally if one is due, print the result and exit (0 counted, 1 the source is not the log, 2 bad input or an
    unreachable source).`,
  flags: [
    {
      name: 'log',
      value: 'URL',
      oneOf: 'source',
      help: 'read the log here: the log, a mirror, or any static copy of its tiles',
    },
    {
      name: 'nats',
      value: 'URL[,URL...]',
      oneOf: 'source',
      help: "read a replicated log's journal from these NATS servers, and publish each count on urna.results.ID",
    },
    LOG_KEY_FLAG,
    { name: 'election', value: 'ID', required: true, env: 'URNA_ELECTION', help: 'the election to count' },
    {
      name: 'key',
      value: 'SKEYFILE',
      env: 'URNA_COUNTER_KEY',
      help: "the election's counter signing key: append tally records (without it: count and publish only)",
    },
    {
      name: 'submit',
      value: 'URL',
      help: `where tally records are appended (default: --log, else ${DEFAULT_LOG_URL})`,
    },
    { name: 'out', value: 'DIR', env: 'URNA_OUT', help: 'write latest.json and SIZE.json here' },
    {
      name: 'listen',
      value: 'HOST:PORT',
      env: 'URNA_LISTEN',
      help: 'serve /latest.json, /SIZE.json and /healthz here',
    },
    {
      name: 'interval',
      value: 'SECONDS',
      env: 'URNA_INTERVAL',
      default: '60',
      help: 'seconds between counts, and at least between tally records before the election is final',
    },
    MARGIN_FLAG,
    { name: 'once', help: 'count once, print the result and exit' },
  ],
  run: runCount,
};

/** Reads a share from 0 to 1 given by `--flag`; throws UsageError otherwise. */
export function parseShare(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n >= 0 && n <= 1))
    throw new UsageError(`--${flag}: expected a share from 0 to 1, got ${text}`);
  return n;
}

/** The subject each count is published on: `urna.results.<election>`. */
export function resultsSubject(election: string): string {
  return `urna.results.${election}`;
}

/**
 * What `urna.results.<election>` carries for each count: the snapshot
 * without the district detail (which can exceed a NATS message; it is in
 * the files), with the discrepancies.
 */
export function resultsMessage(s: ResultSnapshot): Uint8Array {
  const { results, ...rest } = s;
  return canonicalBytes({ ...rest, discrepancies: results.discrepancies });
}

async function openSource(
  p: Parsed,
  logKey: string,
): Promise<{ source: CountSource; nc?: NatsConnection; where: string }> {
  const logUrl = p.string('log');
  if (logUrl !== undefined) {
    try {
      // Few retries per request: the live loop retries a source that does not answer every --interval.
      const reader = new LogReader(logUrl, { logKey, http: { maxRetries: 3, maxDelayMs: 2000 } });
      return { source: httpSource(reader), where: logUrl };
    } catch (e) {
      throw new UsageError(`--log/--log-key: ${e instanceof Error ? e.message : e}`);
    }
  }
  const servers = p.required('nats');
  let verifier;
  try {
    verifier = parseVerifierKey(logKey);
  } catch (e) {
    throw new UsageError(`--log-key: ${e instanceof Error ? e.message : e}`);
  }
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: servers.split(','), maxReconnectAttempts: -1 });
  } catch (e) {
    throw new UsageError(`--nats ${servers} does not answer: ${e instanceof Error ? e.message : e}`);
  }
  const origin = verifier.name;
  // A reader never creates a journal: a missing one means another log's key (or another NATS).
  try {
    await (await nc.jetstreamManager()).streams.info(journalStreamName(origin));
  } catch {
    await nc.close();
    throw new UsageError(`no journal of ${origin} on --nats ${servers} (is --log-key the log's key?)`);
  }
  const [journal, feed] = await Promise.all([Journal.open(nc, origin), CheckpointFeed.open(nc, origin)]);
  return { source: new JournalSource(journal, feed, verifier), nc, where: servers };
}

async function runCount(p: Parsed): Promise<number> {
  useNativeCrypto();
  const logKey = await readVerifierKeyArg(p.required('log-key'));
  const { source, nc, where } = await openSource(p, logKey);
  const logUrl = where;
  const election = p.required('election');
  const keyFile = p.string('key');
  const signer = keyFile ? await readSigningKey(keyFile, '--key') : undefined;
  const submit = signer ? new LogClient(p.string('submit') ?? p.string('log') ?? DEFAULT_LOG_URL) : undefined;
  const pool = new RecordPool();
  const once = p.bool('once');
  const out = p.string('out');
  const counter = new Counter({
    source,
    logKey,
    election,
    ...pool.replayWork(),
    ...(signer ? { signer } : {}),
    ...(submit ? { submit } : {}),
    ...(out ? { out } : {}),
    intervalMs: p.requiredInt('interval', 1) * 1000,
    margin: parseShare(p.string('margin')!, 'margin'),
    ...(nc
      ? { onSnapshot: (s: ResultSnapshot) => nc.publish(resultsSubject(election), resultsMessage(s)) }
      : {}),
    say: (line) => process.stderr.write(`urna count: ${line}\n`),
  });
  const close = async () => {
    await pool.close();
    await nc?.drain();
  };
  const firstRound = async () => {
    try {
      return await counter.round();
    } catch (e) {
      throw explain(e, logUrl);
    }
  };
  if (once) {
    try {
      const snapshot = await firstRound();
      say(...summary(snapshot));
      return 0;
    } finally {
      await close();
    }
  }

  await firstRound();
  const listen = p.string('listen');
  const app = listen ? await buildCountApp(counter, out) : null;
  if (app && listen) {
    const { host, port } = parseListen(listen);
    const url = await app.listen({ host, port });
    say(`urna: counter of ${election}`, `urna: listening on ${url}`);
  } else say(`urna: counter of ${election}`);
  const intervalMs = p.requiredInt('interval', 1) * 1000;
  return new Promise<number>((resolve) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = (code: number) => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      void (async () => {
        await app?.close();
        await close();
        resolve(code);
      })();
    };
    const tick = () => {
      counter.round().then(
        () => {
          if (!stopped) timer = setTimeout(tick, intervalMs);
        },
        (e: unknown) => {
          // A source that does not answer is retried; one that lies stops the counter.
          if ((e instanceof LogError && e.status === 0) || e instanceof JournalUnavailableError) {
            process.stderr.write(`urna count: ${e.message}; retrying\n`);
            if (!stopped) timer = setTimeout(tick, intervalMs);
            return;
          }
          process.stderr.write(`urna count: ${explain(e, logUrl).message}\n`);
          stop(e instanceof ReplayError ? 1 : 2);
        },
      );
    };
    timer = setTimeout(tick, intervalMs);
    process.once('SIGINT', () => stop(0));
    process.once('SIGTERM', () => stop(0));
  });
}

/** A clear error for what stops a count: a lying source (exit 1), bad input or an unreachable one (exit 2). */
function explain(e: unknown, url: string): Error {
  if (e instanceof ReplayError) return e;
  if (e instanceof CountError) return new UsageError(e.message);
  if (e instanceof LogError && e.status === 0) return new UsageError(`${url} does not answer: ${e.message}`);
  if (e instanceof Error && /signature|verifier|origin/i.test(e.message) && !(e instanceof LogError))
    return new UsageError(`the checkpoint of ${url} does not verify with --log-key: ${e.message}`);
  return e instanceof Error ? e : new Error(String(e));
}

/** The lines `--once` prints: per contest, progress, totals and seats. */
export function summary(s: ResultSnapshot): string[] {
  const lines = [
    `election ${s.election.id}: phase ${s.election.phase}, counted over the first ${s.log.size} records (root ${s.log.root})`,
  ];
  if (!s.tally) return [...lines, 'voting has not closed: nothing to tally yet'];
  for (const [id, c] of Object.entries(s.tally.contests)) {
    const seats = Object.entries(c.seats.seats)
      .filter(([, n]) => n > 0)
      .map(([o, n]) => `${o} ${n}`)
      .join(', ');
    const votes = Object.entries(c.counted.votes)
      .map(([o, n]) => `${o} ${n}`)
      .join(', ');
    lines.push(
      `${id}: ${c.final.districts} of ${c.polling} polling districts final, ${c.preliminary.districts} preliminary; ` +
        `counted ${c.counted.electorate} of ${c.electorate} electorate`,
      `  votes: ${votes}; blank ${c.counted.blank}, invalid ${c.counted.invalid}; e-ballots ${c.eballots.ballots}`,
      ...(c.eballots.decrypted
        ? [
            `  e-votes (in the votes; ${c.eballots.decrypted.ballots} of ${c.eballots.ballots} e-ballots decrypted, ` +
              `${c.eballots.decrypted.districts} polling districts): ` +
              Object.entries(c.eballots.decrypted.votes)
                .map(([o, n]) => `${o} ${n}`)
                .join(', '),
          ]
        : []),
      `  seats${c.provisional ? ' (provisional)' : ''}: ${seats || 'none'}` +
        (c.seats.lots.length ? `; ${c.seats.lots.length} lot(s) drawn` : ''),
    );
  }
  const d = s.results.discrepancies;
  lines.push(
    `discrepancies: ${d.filter((x) => x.kind === 'differs').length} beyond the margin, ` +
      `${d.filter((x) => x.kind === 'no_final').length} without a final report, ` +
      `${d.filter((x) => x.kind === 'unreported').length} unreported`,
  );
  if (s.tallyRecord)
    lines.push(`latest tally record: index ${s.tallyRecord.index}, over ${s.tallyRecord.size}`);
  return lines;
}
