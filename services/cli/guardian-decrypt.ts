/**
 * `urna guardian decrypt`: a guardian's part of counting an encrypted
 * election (docs/DESIGN.md "Decryption and the homomorphic tally"). After
 * voting closed, the guardian publishes its partial decryption of every
 * polling district's encrypted sums, as they stand, with its key share from
 * the guardian secret file (services/cli/guardian.ts).
 *
 * The sums come from the guardian's own replay of the log
 * (verifier/replayer.ts through LogReader: every entry authenticated
 * against a checkpoint signed by the log's key, every signature and rule
 * applied), never from the server's state: a guardian decrypts only what
 * the log holds. An override while the election is in `close` changes a
 * district's sums and voids its decryption; the command keeps following
 * the log until the election is `final` and it decrypted everything.
 */
import { fromBase64 } from '../../ledger/bytes.js';
import { decryptionBody } from '../../ledger/encrypted-election.js';
import { decodeScalar } from '../../ledger/group.js';
import { signRecord } from '../../ledger/record.js';
import { stateKey, type ElectionState, type EncryptedSumState, type StateValue } from '../../ledger/rules.js';
import { LogError } from '../../verifier/client.js';
import { LogReader } from '../../verifier/reader.js';
import { Replayer } from '../../verifier/replayer.js';
import { useNativeCrypto } from '../crypto/native.js';
import { RecordPool } from '../crypto/record-pool.js';
import {
  LOG_FLAG,
  LOG_KEY_FLAG,
  logClient,
  readSigningKey,
  readVerifierKeyArg,
  say,
} from './client-common.js';
import { parseInteger, type Command } from './command.js';
import { GUARDIAN_KEY_FLAG, readGuardianSecret } from './guardian.js';
import { UsageError } from './usage-error.js';

/** A district's encrypted sums that guardian `index` has not decrypted as they stand. */
export type PendingDecryption = {
  district: string;
  /** The index of the record that last changed the sums (`esum.changed`): what the decryption names. */
  changed: number;
  /** The counted ballots in the sums (over the contests, the most of any one). */
  ballots: number;
  /** The sealed sums per contest, as decryptionBody takes them. */
  sums: { [contest: string]: string };
};

/** Where an election's districts stand with guardian `index`'s decryptions. */
export type DecryptionProgress = {
  /** Districts with encrypted sums. */
  districts: number;
  /** Of those, decrypted by this guardian as they stand. */
  mine: number;
  /** Of those, decrypted by a quorum (their counts known). */
  quorum: number;
  /** What this guardian has still to decrypt, by district id. */
  pending: PendingDecryption[];
};

/**
 * The progress of guardian `index` over election `election`'s encrypted
 * sums in `entries` (a replayed state): each `esum/<election>/<district>`
 * whose `decryptions` lacks the guardian is pending, as of its `changed`.
 * Pure; districts in id order.
 */
export function decryptionProgress(
  entries: Iterable<[string, StateValue]>,
  election: string,
  index: number,
): DecryptionProgress {
  const prefix = stateKey.encryptedSum(election, '');
  const progress: DecryptionProgress = { districts: 0, mine: 0, quorum: 0, pending: [] };
  for (const [key, value] of entries) {
    if (!key.startsWith(prefix)) continue;
    const s = value as EncryptedSumState;
    progress.districts++;
    if (s.votes !== undefined) progress.quorum++;
    if (s.decryptions !== undefined && Object.hasOwn(s.decryptions, String(index))) {
      progress.mine++;
      continue;
    }
    const contests = Object.entries(s.contests);
    progress.pending.push({
      district: key.slice(prefix.length),
      changed: s.changed,
      ballots: Math.max(0, ...contests.map(([, c]) => c.ballots)),
      sums: Object.fromEntries(contests.map(([c, x]) => [c, x.sum])),
    });
  }
  progress.pending.sort((a, b) => (a.district < b.district ? -1 : a.district > b.district ? 1 : 0));
  return progress;
}

/** Waits `ms` milliseconds. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Refusals that are not a failure: the sums changed after the replay (decrypt again), or another run of this guardian decrypted them. */
const NOT_A_FAILURE = new Set(['stale_decryption', 'already_published']);

export const guardianDecryptCommand: Command = {
  name: 'guardian decrypt',
  summary:
    "publishes this guardian's partial decryption of every polling district's encrypted sums, after voting closed",
  description: `Replays the log from its first record (every entry read through tiles authenticated against a
    checkpoint signed by --log-key, every signature and rule applied, as urna count does) and, for every polling
    district whose encrypted sums this guardian has not decrypted as they stand now, publishes a decryption record:
    per option of each contest, its share of the decryption with a Chaum-Pedersen proof, made with the key share in
    the guardian secret file (as urna guardian ceremony left it) and checked by the log against the guardian's share
    image. The server's state is not trusted for the sums: they are the replay's. Once a quorum of guardians
    decrypted a district, the log combines their shares into the district's e-votes, which the tally counts.

    Only after voting closed: before (setup, open) it refuses and publishes nothing (exit 1). While the election is
    in close, a paper-vote override can still change a district's sums, which voids its decryption: the command
    keeps following the log every --poll and decrypts again, until the election is final and every district is
    decrypted by this guardian (exit 0), or --timeout (exit 1). --once: decrypt what is to decrypt now and exit.

    Prints "index N decryption DISTRICT (B ballots, sums as of record C)" per district decrypted, then a summary:
    how many districts this guardian and a quorum have decrypted. A decryption the log refuses (invalid_proof: the
    key share is not this guardian's, e.g. corrupted) is printed with the log's message; the other districts are
    still tried, then it exits 1.`,
  flags: [
    { name: 'election', value: 'ID', required: true, help: "the election's id" },
    {
      name: 'guardian',
      value: 'SECRETFILE',
      required: true,
      help: 'the guardian secret file, holding the key share (as urna guardian ceremony leaves it); only read',
    },
    GUARDIAN_KEY_FLAG,
    LOG_FLAG,
    LOG_KEY_FLAG,
    { name: 'once', help: 'decrypt what is to decrypt now and exit (excludes --timeout)' },
    {
      name: 'timeout',
      value: 'SECONDS',
      help: 'give up (exit 1) if the election is not final and decrypted by then (default: wait as long as it takes)',
    },
    { name: 'poll', value: 'MS', default: '1000', help: 'how often to look at the log while waiting' },
  ],
  async run(p) {
    const id = p.required('election');
    const secretFile = p.required('guardian');
    const file = await readGuardianSecret(secretFile);
    const signer = await readSigningKey(p.required('key'), '--key');
    const once = p.bool('once');
    const timeout = p.string('timeout');
    if (once && timeout !== undefined) throw new UsageError('--once and --timeout exclude each other');
    const deadline =
      timeout === undefined ? Infinity : Date.now() + parseInteger(timeout, '--timeout', 1) * 1000;
    const pollMs = p.requiredInt('poll', 10);
    if (file.election === null || file.keyShare === null)
      throw new UsageError(
        `--guardian ${secretFile} holds no key share yet: run urna guardian ceremony for the election first`,
      );
    if (file.election.id !== id)
      throw new UsageError(
        `--guardian ${secretFile} serves guardian ${file.election.index} of election ${file.election.id}, not ${id}`,
      );
    const index = file.election.index;
    const share = decodeScalar(fromBase64(file.keyShare));
    const logKey = await readVerifierKeyArg(p.required('log-key'));
    const url = p.required('log');
    const client = await logClient(url, logKey);
    let reader: LogReader;
    try {
      reader = new LogReader(url, { logKey, http: { maxRetries: 4, maxDelayMs: 2000 } });
    } catch (e) {
      throw new UsageError(`--log ${url}: ${e instanceof Error ? e.message : e}`);
    }
    useNativeCrypto();
    const pool = new RecordPool();
    const replayer = new Replayer({ logKey, ...pool.replayWork() });
    const fail = (message: string) => {
      process.stderr.write(`urna guardian decrypt: ${message}\n`);
      return 1;
    };

    /** Replays to the latest checkpoint: the election and this guardian's progress. */
    const replay = async () => {
      const head = await replayer.catchUp(reader);
      const election = replayer.state.read(stateKey.election(id)) as ElectionState | undefined;
      if (election === undefined)
        throw new Error(`the log has no election ${id} (replayed ${head.size} records)`);
      return { size: head.size, election, progress: decryptionProgress(replayer.state.entries(), id, index) };
    };
    const summary = (v: Awaited<ReturnType<typeof replay>>, now: number) =>
      say(
        `guardian ${index}: ${now} decryption(s) published now; ` +
          `${v.progress.mine} of ${v.progress.districts} districts decrypted by this guardian, ` +
          `${v.progress.quorum} by a quorum (election ${id} ${v.election.phase}, log size ${v.size})`,
      );

    try {
      let view = await replay();
      const guardians = view.election.roles.guardians;
      if (guardians === undefined)
        throw new UsageError(`election ${id} has no guardians: its ballots are not encrypted`);
      if (guardians.keys[index - 1] !== signer.key)
        throw new UsageError(
          `--key ${signer.name} is not guardian ${index} of election ${id} (the index --guardian ${secretFile} was given)`,
        );
      if (view.election.hash !== file.election.hash)
        throw new UsageError(
          `--guardian ${secretFile} was bound to another election ${id} (hash ${file.election.hash}, the log's is ${view.election.hash})`,
        );
      if (view.election.phase !== 'close' && view.election.phase !== 'final')
        return fail(
          `voting has not closed: election ${id} is in ${view.election.phase}; guardians decrypt after close (nothing published)`,
        );

      /** Decryptions submitted, by district and state of its sums: not sent again while the replay catches up. */
      const submitted = new Set<string>();
      let published = 0;
      for (;;) {
        const todo = view.progress.pending.filter((d) => !submitted.has(`${d.district}@${d.changed}`));
        if (todo.length === 0) {
          const done = view.election.phase === 'final' && view.progress.pending.length === 0;
          if (once || done) {
            summary(view, published);
            return 0;
          }
          if (Date.now() >= deadline) {
            summary(view, published);
            return fail(
              `timed out after ${timeout} s: election ${id} is ${view.election.phase}` +
                (view.progress.pending.length === 0
                  ? ' (its sums as they stand are decrypted by this guardian): run again once it is final'
                  : `, ${view.progress.pending.length} district(s) not yet decrypted by this guardian`),
            );
          }
          await sleep(pollMs);
          view = await replay();
          continue;
        }
        let refused = 0;
        for (const d of todo) {
          const body = decryptionBody(
            index,
            share,
            d.district,
            d.changed,
            d.sums,
            fromBase64(view.election.hash),
          );
          const bytes = signRecord({ v: 1, type: 'decryption', election: id, body }, signer.seed);
          submitted.add(`${d.district}@${d.changed}`);
          try {
            const r = await client.submit(bytes);
            published++;
            say(
              `index ${r.index} decryption ${d.district} (${d.ballots} ballots, sums as of record ${d.changed})` +
                (r.duplicate ? ' (already in the log)' : ''),
            );
          } catch (e) {
            if (!(e instanceof LogError) || e.status < 400 || e.status >= 500) throw e;
            if (NOT_A_FAILURE.has(e.code)) continue; // the next replay shows where the district stands
            refused++;
            process.stderr.write(
              `urna guardian decrypt: district ${d.district}: the log refuses the decryption: ${e.message}\n`,
            );
          }
        }
        // At once: confirm what was published, and see whether the sums changed meanwhile.
        view = await replay();
        if (refused > 0) {
          summary(view, published);
          return fail(
            `the log refused ${refused} decryption(s) by guardian ${index}` +
              ' (is the key share in --guardian the one the ceremony gave?)',
          );
        }
      }
    } finally {
      await pool.close();
    }
  },
};
