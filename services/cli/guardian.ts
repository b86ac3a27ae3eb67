/**
 * `urna guardian keygen` and `urna guardian ceremony`: a guardian's part of
 * an encrypted election's key ceremony (docs/DESIGN.md "Encrypted
 * ballots"), with its secret in a file of its own.
 *
 * The guardian secret file (JSON, mode 0600, `urna/guardian-secret/v1`)
 * holds the polynomial's coefficients and the communication secret ζ;
 * the ceremony binds it to one election (its id and hash, and the
 * guardian's index there) before anything is published, and adds the
 * guardian's key share s_ℓ before it publishes its `accept`. Every change
 * is written to a temporary file (0600, fsynced) renamed over the file, so
 * a crash leaves the old file or the new one, never half of one.
 *
 * The ceremony reads the other guardians' records authenticated
 * (verifier/ceremony.ts, through LogReader), and is resumable: each step
 * looks at what the log already holds of this guardian and publishes only
 * what is missing.
 */
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { equalBytes, fromBase64, toBase64 } from '../../ledger/bytes.js';
import { guardianBody, openShare, sharesBody } from '../../ledger/encrypted-election.js';
import {
  electionKey,
  guardianSecret,
  keyShare,
  keyShareImage,
  shareFor,
  type GuardianSecret,
} from '../../ledger/guardian.js';
import { decodeScalar, encodeElement, encodeScalar, G, mul, randomScalar } from '../../ledger/group.js';
import { signRecord } from '../../ledger/record.js';
import type { ElectionSummary } from '../../ledger/rules.js';
import {
  fetchCeremonyClaim,
  missingGuardians,
  readCeremony,
  readElectionRecord,
  type CeremonyView,
  type ElectionRecordView,
} from '../../verifier/ceremony.js';
import { LogError } from '../../verifier/client.js';
import { LogReader } from '../../verifier/reader.js';
import type { Record as LogRecord } from '../../ledger/record.js';
import { readKeyFile } from '../key-file.js';
import {
  LOG_FLAG,
  LOG_KEY_FLAG,
  logClient,
  readSigningKey,
  readVerifierKeyArg,
  say,
} from './client-common.js';
import type { Command, Flag } from './command.js';
import { UsageError } from './usage-error.js';

/** The guardian secret file's content. */
export type GuardianSecretFile = {
  v: 1;
  type: 'urna/guardian-secret/v1';
  /** How many coefficients: the election's quorum must be this. */
  quorum: number;
  /** The polynomial's coefficients a_{i,0} … a_{i,k-1}, base64 scalars. */
  coefficients: string[];
  /** The communication secret ζ, a base64 scalar. */
  communication: string;
  /** The election it serves, once the ceremony bound it: id, hash (base64) and the guardian's index. */
  election: { id: string; hash: string; index: number } | null;
  /** The key share s_ℓ = Σ_i P_i(ℓ) (base64 scalar), once the guardian opened its shares. */
  keyShare: string | null;
};

const SECRET_TYPE = 'urna/guardian-secret/v1';

/** Reads and checks a guardian secret file (KeyFileError if it is missing or too open; UsageError if it is not one). */
export async function readGuardianSecret(file: string): Promise<GuardianSecretFile> {
  const text = await readKeyFile(file);
  let s: GuardianSecretFile;
  try {
    s = JSON.parse(text) as GuardianSecretFile;
    if (s.v !== 1 || s.type !== SECRET_TYPE || !Array.isArray(s.coefficients))
      throw new Error(`not a ${SECRET_TYPE} file`);
    if (s.coefficients.length !== s.quorum) throw new Error('its coefficients are not as many as its quorum');
    s.coefficients.forEach((c, j) => decodeScalar(fromBase64(c), `coefficients[${j}]`));
    decodeScalar(fromBase64(s.communication), 'communication');
    if (s.keyShare !== null) decodeScalar(fromBase64(s.keyShare), 'keyShare');
  } catch (e) {
    throw new UsageError(`--guardian ${file}: ${e instanceof Error ? e.message : e}`);
  }
  return s;
}

/**
 * Writes `s` over `file` atomically: a temporary file beside it (mode
 * 0600, created anew), fsynced, renamed over it, and the directory fsynced.
 */
export async function writeGuardianSecret(file: string, s: GuardianSecretFile): Promise<void> {
  const tmp = `${file}.tmp`;
  await unlink(tmp).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(s, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** `--key`: a guardian's signing key, as every guardian command takes it. */
export const GUARDIAN_KEY_FLAG: Flag = {
  name: 'key',
  value: 'SKEYFILE',
  required: true,
  help: "the guardian's Ed25519 signing key file, one of the election's roles.guardians.keys",
};

export const guardianKeygenCommand: Command = {
  name: 'guardian keygen',
  summary:
    "a new guardian secret in a file (mode 0600): the polynomial's coefficients and the communication secret",
  description: `Draws a guardian's secrets for an election of quorum K (ElectionGuard 2.1 §3.2): the K coefficients of
    its polynomial and its communication secret, and writes them to FILE (JSON, mode 0600), never overwriting an
    existing file. Prints nothing secret. The guardian also needs an Ed25519 signing key (urna keygen NAME --out
    SKEYFILE), whose verifier key the election manifest lists in roles.guardians.keys; its position there is the
    guardian's index, which urna guardian ceremony learns from the election. One secret serves one election: the
    ceremony binds the file to the first election it runs for.`,
  flags: [
    { name: 'out', value: 'FILE', required: true, help: 'the secret file to create (it must not exist)' },
    {
      name: 'quorum',
      value: 'K',
      required: true,
      help: "how many guardians decrypt (the election's roles.guardians.quorum, 1 to 64)",
    },
  ],
  async run(p) {
    const quorum = p.requiredInt('quorum', 1);
    if (quorum > 64) throw new UsageError('--quorum must be at most 64');
    const out = p.required('out');
    // The index is the election's to give; the coefficients do not depend on it.
    const secret = guardianSecret(1, quorum);
    const file: GuardianSecretFile = {
      v: 1,
      type: SECRET_TYPE,
      quorum,
      coefficients: secret.coefficients.map((a) => toBase64(encodeScalar(a))),
      communication: toBase64(encodeScalar(randomScalar())),
      election: null,
      keyShare: null,
    };
    // 'wx': never overwrite an existing secret.
    await writeFile(out, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    say(`wrote a guardian secret of quorum ${quorum} to ${out}`);
    return 0;
  },
};

/** The secret's polynomial as guardian `index`, and its communication secret. */
function secretOf(s: GuardianSecretFile, index: number): { secret: GuardianSecret; zeta: bigint } {
  return {
    secret: { index, coefficients: s.coefficients.map((c) => decodeScalar(fromBase64(c))) },
    zeta: decodeScalar(fromBase64(s.communication)),
  };
}

/** Waits `ms` milliseconds. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A step of the ceremony did not finish in time, or the log refuses what it needs. */
class CeremonyFailure extends Error {}

/**
 * Reads the ceremony's records as the log's latest checkpoint covers them,
 * authenticated, caching the records already read.
 */
function ceremonyReader(reader: LogReader, election: ElectionRecordView) {
  const known = new Map<number, LogRecord>();
  return async (): Promise<CeremonyView> => {
    const claim = await fetchCeremonyClaim(reader.client, election.body.id);
    const { head } = await reader.checkpoint();
    return readCeremony(reader, election, claim, head, known);
  };
}

export const guardianCeremonyCommand: Command = {
  name: 'guardian ceremony',
  summary: "runs this guardian's part of an election's key ceremony: commitments, shares, key share, accept",
  description: `Runs guardian ℓ's part of the key ceremony of an encrypted election in setup, ℓ being the position of
    --key's public key in the election's roles.guardians.keys: publishes its guardian record (commitments and
    communication key, each with a proof of knowledge), waits until every guardian has published, sends its shares
    record (its share for every other guardian, encrypted to that guardian's communication key), waits for every
    guardian's shares, opens the shares sent to it and checks each against its sender's commitments, writes its key
    share into the secret file, and publishes its accept record of the election key.

    Every other guardian's record is read through tiles authenticated against a checkpoint signed by --log-key and
    checked (type, election, signer, proofs): the log's index of them is only where to look. A share that does not
    open, or is not what its sender's commitments promise, is named with its sender and the guardian accepts
    nothing (exit 1): the election must then be defined again. Waiting is bounded by --timeout (exit 1 naming the
    guardians waited for). Running it again after an interruption continues where the log is: what this guardian
    already published is checked against its secret and not published again.

    Prints one line per step: "index N guardian|shares|accept" (with "(already in the log)" for a step done
    before), then "key KEY" (the election key, base64).`,
  flags: [
    { name: 'election', value: 'ID', required: true, help: "the election's id" },
    {
      name: 'guardian',
      value: 'SECRETFILE',
      required: true,
      help: 'the guardian secret file (as urna guardian keygen writes it); its key share is added to it',
    },
    GUARDIAN_KEY_FLAG,
    LOG_FLAG,
    LOG_KEY_FLAG,
    {
      name: 'timeout',
      value: 'SECONDS',
      default: '600',
      help: 'how long to wait in all for the other guardians',
    },
    { name: 'poll', value: 'MS', default: '500', help: 'how often to look at the log while waiting' },
  ],
  async run(p) {
    const secretFile = p.required('guardian');
    let file = await readGuardianSecret(secretFile);
    const signer = await readSigningKey(p.required('key'), '--key');
    const id = p.required('election');
    const deadline = Date.now() + p.requiredInt('timeout', 1) * 1000;
    const pollMs = p.requiredInt('poll', 10);
    const logKey = await readVerifierKeyArg(p.required('log-key'));
    const url = p.required('log');
    const client = await logClient(url, logKey);
    let reader: LogReader;
    try {
      reader = new LogReader(url, { logKey, http: { maxRetries: 4, maxDelayMs: 2000 } });
    } catch (e) {
      throw new UsageError(`--log ${url}: ${e instanceof Error ? e.message : e}`);
    }

    // The election, from its authenticated record (the summary only says where it is).
    let summary: ElectionSummary;
    try {
      summary = await client.election(id);
    } catch (e) {
      if (e instanceof LogError && e.status === 404) throw new Error(`the log has no election ${id}`);
      throw e;
    }
    const election = await readElectionRecord(reader, id, summary.index, (await reader.checkpoint()).head);
    const guardians = election.body.roles.guardians;
    if (!guardians) throw new UsageError(`election ${id} has no guardians: its ballots are not encrypted`);
    const index = guardians.keys.indexOf(signer.key) + 1;
    if (index === 0) throw new UsageError(`--key ${signer.name} is not one of election ${id}'s guardians`);
    if (guardians.quorum !== file.quorum)
      throw new UsageError(
        `--guardian ${secretFile} is for a quorum of ${file.quorum}; election ${id}'s is ${guardians.quorum}`,
      );
    const binding = { id, hash: toBase64(election.hash), index };
    if (file.election === null) {
      file = { ...file, election: binding };
      await writeGuardianSecret(secretFile, file); // bound before anything is published
    } else if (
      file.election.id !== id ||
      file.election.hash !== binding.hash ||
      file.election.index !== index
    )
      throw new UsageError(
        `--guardian ${secretFile} serves guardian ${file.election.index} of election ${file.election.id} ` +
          `(hash ${file.election.hash}), not guardian ${index} of this one: one secret serves one election`,
      );
    const { secret, zeta } = secretOf(file, index);
    const hash = election.hash;
    const read = ceremonyReader(reader, election);
    const sign = (type: 'guardian' | 'shares' | 'accept', body: unknown) =>
      signRecord({ v: 1, type, election: id, body } as Parameters<typeof signRecord>[0], signer.seed);

    /** Polls until `missing(view)` is empty; CeremonyFailure at the deadline. */
    const waitFor = async (missing: (v: CeremonyView) => number[], what: string): Promise<CeremonyView> => {
      for (;;) {
        const view = await read();
        const waiting = missing(view);
        if (waiting.length === 0) return view;
        if (Date.now() >= deadline)
          throw new CeremonyFailure(`timed out: guardian(s) ${waiting.join(', ')} ${what}`);
        await sleep(pollMs);
      }
    };

    /**
     * Publishes this guardian's record of a step unless the log holds one:
     * `published(view)` finds it. A record the log took meanwhile (a
     * resubmission after a crash, whose random proofs differ) is found again.
     */
    const publish = async (
      type: 'guardian' | 'shares' | 'accept',
      published: (v: CeremonyView) => { index: number } | undefined,
      body: () => unknown,
      view: CeremonyView,
    ): Promise<CeremonyView> => {
      const before = published(view);
      if (before !== undefined) {
        say(`index ${before.index} ${type} (already in the log)`);
        return view;
      }
      try {
        const r = await client.submit(sign(type, body()));
        say(`index ${r.index} ${type}${r.duplicate ? ' (already in the log)' : ''}`);
      } catch (e) {
        if (!(e instanceof LogError) || e.code !== 'already_published') throw e;
      }
      // Read back through the authenticated reader (the record this guardian's key signed, whichever run sent it).
      return waitFor((v) => (published(v) ? [] : [index]), `(this guardian) ${type}: not yet in the log`);
    };

    try {
      // 1. The commitments and the communication key.
      let view = await read();
      view = await publish(
        'guardian',
        (v) => v.guardians.get(index),
        () => guardianBody(secret, zeta, hash),
        view,
      );
      const mine = view.guardians.get(index)!;
      const ours =
        mine.key.commitments.every((k, j) => k.equals(mul(G, secret.coefficients[j]!))) &&
        mine.communication.key.equals(mul(G, zeta));
      if (!ours)
        throw new CeremonyFailure(
          `the guardian record of guardian ${index} at index ${mine.index} is not this secret's ` +
            `(another secret signed with --key?): nothing more is published`,
        );
      view = await waitFor((v) => missingGuardians(v, v.guardians), 'have not published their commitments');

      // 2. The shares, to every other guardian's communication key.
      view = await publish(
        'shares',
        (v) => v.shares.get(index),
        () =>
          sharesBody(
            secret,
            [...view.guardians.values()].map((g) => g.communication),
            hash,
          ),
        view,
      );
      view = await waitFor((v) => missingGuardians(v, v.shares), 'have not sent their shares');

      // 3. The shares sent to this guardian, each checked against its sender's commitments.
      const received: bigint[] = [shareFor(secret, index)];
      const refused: string[] = [];
      for (const [from, s] of [...view.shares].sort(([a], [b]) => a - b)) {
        if (from === index) continue;
        const share = openShare(s.body, index, zeta, view.guardians.get(from)!.key, hash);
        if (typeof share === 'bigint') received.push(share);
        else refused.push(`guardian ${from}'s share (shares record at index ${s.index}) is ${share}`);
      }
      if (refused.length > 0) {
        for (const r of refused) process.stderr.write(`urna guardian ceremony: ${r}\n`);
        throw new CeremonyFailure(
          `refusing to accept: ${refused.length} bad share(s) sent to guardian ${index}; the election must be defined again`,
        );
      }
      const keys = [...view.guardians.values()].map((g) => g.key);
      const share = keyShare(received);
      if (!mul(G, share).equals(keyShareImage(keys, index)))
        throw new CeremonyFailure(`the key share does not match the commitments (a bug)`); // each share checked above
      const shareB64 = toBase64(encodeScalar(share));
      if (file.keyShare === null) {
        file = { ...file, keyShare: shareB64 };
        await writeGuardianSecret(secretFile, file); // kept before the key is accepted
      } else if (file.keyShare !== shareB64)
        throw new CeremonyFailure(`--guardian ${secretFile} holds another key share than the shares give`);

      // 4. The election key, accepted.
      const key = toBase64(encodeElement(electionKey(keys)));
      view = await publish(
        'accept',
        (v) => v.accepted.get(index),
        () => ({ index, key }),
        view,
      );
      if (!equalBytes(fromBase64(view.accepted.get(index)!.body.key), fromBase64(key)))
        throw new CeremonyFailure(`guardian ${index}'s accept record states another key`);
      say(`key ${key}`);
      return 0;
    } catch (e) {
      if (e instanceof CeremonyFailure) {
        process.stderr.write(`urna guardian ceremony: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
