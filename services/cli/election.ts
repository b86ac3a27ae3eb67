/**
 * The election clients of the `urna` command: `election create`,
 * `credentials issue`, `phase`, `cast` and `report`. Each signs records with
 * a key file and submits them to a log (verifier/client.ts). `cast` in an
 * encrypted election encrypts and proves the ballot here
 * (services/cli/encrypted-ballot.ts), or spoils it (a Benaloh challenge).
 */
import { mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64, toBase64, toHex } from '../../ledger/bytes.js';
import { ed25519, randomSeed } from '../../ledger/ed25519.js';
import { hash } from '../../ledger/hash.js';
import { ED25519_TYPE, formatSignerKey } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import { encryptBallot } from '../../ledger/encrypted-election.js';
import {
  ballotTracker,
  decodeRecord,
  signRecord,
  type BallotRecord,
  type CredentialDef,
  type ElectionBody,
  type Phase,
  type SpoiledBody,
  type Stage,
} from '../../ledger/record.js';
import type { ElectionSummary } from '../../ledger/rules.js';
import { KeyNotFixedError } from '../../verifier/ceremony.js';
import { LogError, type LogClient, type SubmitAnswer } from '../../verifier/client.js';
import { LogReader } from '../../verifier/reader.js';
import {
  LOG_FLAG,
  logClient,
  readSigningKey,
  readVerifierKeyArg,
  say,
  type SigningKey,
} from './client-common.js';
import { parseInteger, type Command, type Flag, type Parsed } from './command.js';
import {
  choicesText,
  electionContext,
  formatSpoiled,
  parseChoices,
  type Choices,
  type SpoiledBallotFile,
} from './encrypted-ballot.js';
import { credentialRecords, normalizeRoles, planElection, recordKey, signAll } from './election-records.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { nativeEd25519 } from '../crypto/native-ed25519.js';
import { UsageError } from './usage-error.js';

/** `--election ID`, required. */
const ELECTION_FLAG: Flag = { name: 'election', value: 'ID', required: true, help: "the election's id" };

function dup(r: SubmitAnswer): string {
  return r.duplicate ? ' (already in the log)' : '';
}

/**
 * The election records of a manifest (an election body with its whole
 * district tree; role keys in record or verifier-key form), signed by
 * `authority`: the election record first, then `districts` records, with the
 * number of districts in each.
 */
export function signElection(
  manifest: ElectionBody,
  authority: SigningKey,
): { records: Uint8Array[]; districts: number[] } {
  const plan = planElection(normalizeRoles(manifest));
  const unsigned = [plan.election, ...plan.districts];
  return {
    records: signAll(unsigned, authority.seed),
    districts: unsigned.map((r) => (r.body as { districts: unknown[] }).districts.length),
  };
}

export const electionCreateCommand: Command = {
  name: 'election create',
  summary: 'defines an election from a manifest: its election record, then its districts records',
  description: `The manifest (FILE, JSON) is the election body with its whole district tree; role keys (registrar,
    counter, reporters) as base64 public keys or verifier keys, as urna keygen prints them. The election record holds
    the root, the reporters' districts and whatever else fits; the rest follows in districts records, parents before
    children, submitted in order. Prints the election id, then one "index N election|districts (K districts)" line per
    record.

    Running it again changes nothing: the log answers each identical record with its index ("already in the log").
    The log must trust the authority key (urna serve --authority VKEY).`,
  flags: [
    {
      name: 'key',
      value: 'SKEYFILE',
      required: true,
      help: "the election authority's signer key file (as urna keygen writes it)",
    },
    { name: 'manifest', value: 'FILE', required: true, help: 'the election manifest (JSON)' },
    LOG_FLAG,
  ],
  async run(p) {
    const authority = await readSigningKey(p.required('key'), '--key');
    const file = p.required('manifest');
    let manifest: ElectionBody;
    try {
      manifest = JSON.parse(await readFile(file, 'utf8')) as ElectionBody;
    } catch (e) {
      throw new UsageError(`--manifest ${file}: ${e instanceof Error ? e.message : e}`);
    }
    const { records, districts } = signElection(manifest, authority);
    const client = await logClient(p.required('log'));
    say(`election ${manifest.id}`);
    // In order: each districts record may need the ones before it.
    for (const [i, bytes] of records.entries()) {
      const r = await client.submit(bytes);
      say(`index ${r.index} ${i === 0 ? 'election' : 'districts'} (${districts[i]} districts)${dup(r)}`);
    }
    return 0;
  },
};

/** A new credential key pair: the key file text and the public key in record form. */
function newCredential(name: string): { file: string; key: string } {
  const seed = randomSeed();
  return { file: formatSignerKey(name, ED25519_TYPE, seed) + '\n', key: toBase64(ed25519().publicKey(seed)) };
}

/**
 * Reads `--keys FILE`: one credential per line, `KEY [DISTRICT [WEIGHT]]`,
 * KEY base64 or a verifier key text; `#` starts a comment.
 */
async function readCredentialList(file: string, district: string | undefined): Promise<CredentialDef[]> {
  const list: CredentialDef[] = [];
  for (const [n, raw] of (await readFile(file, 'utf8')).split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [key, d = district, weight, ...extra] = line.split(/\s+/);
    if (!d || extra.length) throw new UsageError(`--keys ${file}:${n + 1}: expected KEY [DISTRICT [WEIGHT]]`);
    const c: CredentialDef = { key: recordKey(key!), district: d };
    if (weight !== undefined) c.weight = parseInteger(weight, `--keys ${file}:${n + 1} weight`, 1);
    list.push(c);
  }
  return list;
}

export const credentialsIssueCommand: Command = {
  name: 'credentials issue',
  summary: "publishes an election's voting credentials: new keys written to a directory, or existing keys",
  description: `With --count N: generates N credential keys for district D, writes each to DIR (mode 0600, never
    overwriting a file) before anything is published, then publishes their public keys. With --keys FILE: publishes
    the keys listed in FILE, one per line as KEY [DISTRICT [WEIGHT]] (KEY base64 or a verifier key; DISTRICT defaults
    to --district; # starts a comment).

    The records are signed with the registrar's key named in the election manifest. Prints one "index N credentials
    (K credentials)" line per record.`,
  flags: [
    {
      name: 'key',
      value: 'SKEYFILE',
      required: true,
      help: "the election registrar's signer key file",
    },
    ELECTION_FLAG,
    { name: 'count', value: 'N', oneOf: 'credentials', help: 'generate N new credential keys (at least 1)' },
    {
      name: 'keys',
      value: 'FILE',
      oneOf: 'credentials',
      help: 'publish the keys listed in FILE instead (excludes --out)',
    },
    {
      name: 'district',
      value: 'D',
      help: "the credentials' district (required with --count; with --keys, for lines that name none)",
    },
    { name: 'out', value: 'DIR', help: 'where to write the new key files (required with --count)' },
    LOG_FLAG,
  ],
  async run(p) {
    setEd25519Backend(nativeEd25519);
    const registrar = await readSigningKey(p.required('key'), '--key');
    const election = p.required('election');
    let credentials: CredentialDef[];
    const keys = p.string('keys');
    if (keys !== undefined) {
      if (p.string('out') !== undefined) throw new UsageError('--keys excludes --count and --out');
      credentials = await readCredentialList(keys, p.string('district'));
    } else {
      const count = p.requiredInt('count', 1);
      const district = p.required('district');
      const out = p.required('out');
      await mkdir(out, { recursive: true, mode: 0o700 });
      credentials = [];
      // Keys are written before anything is published: a voter never holds a
      // published credential whose key was lost. 'wx': never overwrite a key.
      for (let i = 0; i < count; i++) {
        const { file, key } = newCredential(`${election}/credential`);
        const name = `credential-${toHex(hash(fromBase64(key))).slice(0, 16)}.key`;
        await writeFile(join(out, name), file, { mode: 0o600, flag: 'wx' });
        credentials.push({ key, district });
      }
      say(`wrote ${count} credential key files to ${out}`);
    }
    if (credentials.length === 0) throw new UsageError('no credentials to issue');
    const unsigned = [...credentialRecords(election, credentials)];
    const records = signAll(unsigned, registrar.seed);
    const client = await logClient(p.required('log'));
    // Credentials records are independent of each other.
    const results = await client.submitMany(records, 8);
    results.forEach((r, i) => {
      const n = (unsigned[i]!.body as { credentials: unknown[] }).credentials.length;
      say(`index ${r.index} credentials (${n} credentials)${dup(r)}`);
    });
    say(`issued ${credentials.length} credentials in ${results.length} records`);
    return 0;
  },
};

const PHASES: readonly Phase[] = ['open', 'close', 'final'];

export const phaseCommand: Command = {
  name: 'phase',
  args: 'open|close|final',
  summary: 'opens voting, closes it, or makes the election final',
  description: `Submits a phase record signed by the election's authority. An election moves setup, open, close,
    final, one step at a time and never back: open accepts ballots, close ends them and accepts reports, final ends
    the reports. Prints "index N phase PHASE".`,
  flags: [
    {
      name: 'key',
      value: 'SKEYFILE',
      required: true,
      help: "the election authority's signer key file",
    },
    ELECTION_FLAG,
    LOG_FLAG,
  ],
  async run(p) {
    const [phase] = p.positionals as [string];
    if (!(PHASES as readonly string[]).includes(phase))
      throw new UsageError(`expected open, close or final, got ${phase} (urna phase --help)`);
    const authority = await readSigningKey(p.required('key'), '--key');
    const election = p.required('election');
    const bytes = signRecord(
      { v: 1, type: 'phase', election, body: { phase: phase as Phase } },
      authority.seed,
    );
    const client = await logClient(p.required('log'));
    const r = await client.submit(bytes);
    say(`index ${r.index} phase ${phase}${dup(r)}`);
    return 0;
  },
};

/**
 * Submits a signed ballot (or a spoiled record: `what` names it after the
 * index) and saves its receipt to --receipt-out or `defaultOut` (verified
 * with --log-key when given), as `urna cast` prints it.
 */
async function submitBallot(
  p: Parsed,
  client: LogClient,
  bytes: Uint8Array,
  defaultOut: string,
  what = '',
): Promise<SubmitAnswer> {
  const result = await client.submit(bytes);
  const out = p.string('receipt-out') ?? defaultOut;
  await writeFile(out, result.receipt);
  say(`index ${result.index}${what}${dup(result)}`, `receipt ${out}`);
  if (client.verifier) {
    // LogClient.submit verified it already; say what was checked.
    const { checkpoint } = verifyReceipt(result.receipt, { entry: bytes }, client.verifier);
    say(`verified inclusion in ${checkpoint.origin} at size ${checkpoint.size}`);
  }
  return result;
}

/**
 * `urna cast --choices --challenge`: publishes the `spoiled` record of the
 * signed ballot `ballot` (its body and signature, and per contest its
 * nonces and choices), signed by the credential, so the log refuses that
 * ballot from now on (spoiled_ballot); then writes the opening to
 * --spoiled-out. The file is created (never overwriting one) before
 * anything is published, and removed if the log does not take the record:
 * a signed ballot is never left in a file without its spoiled record on the
 * log, which holds the whole opening besides.
 */
async function spoilBallot(
  p: Parsed,
  client: LogClient,
  credential: SigningKey,
  ballot: Uint8Array,
  tracker: string,
  nonces: { [contest: string]: bigint[] },
  choices: Choices,
): Promise<void> {
  const record = decodeRecord(ballot).record as BallotRecord;
  const text = formatSpoiled(record, tracker, nonces, choices);
  const spoiled = JSON.parse(text) as SpoiledBallotFile;
  const body = record.body as SpoiledBody['ballot'];
  const bytes = signRecord(
    {
      v: 1,
      type: 'spoiled',
      election: record.election,
      body: { ballot: body, sig: record.sig, openings: spoiled.openings },
    },
    credential.seed,
  );
  const out = p.string('spoiled-out') ?? `${tracker}.spoiled.json`;
  const handle = await open(out, 'wx', 0o600);
  try {
    try {
      await submitBallot(p, client, bytes, `${tracker}.spoiled.receipt`, ' spoiled');
    } catch (e) {
      await handle.close();
      await unlink(out);
      throw e;
    }
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
  say(
    `spoiled: published, so this ballot never counts (${choicesText(choices)})`,
    `opening ${out} (urna verify spoiled ${out} checks it)`,
  );
}

/**
 * `urna cast --choices`: encrypts and proves the ballot here, under the
 * election's key (from authenticated records with --log-key), prints its
 * tracker, then submits it, or with --challenge spoils it: publishes its
 * opening in a spoiled record and writes it to a file.
 */
async function castEncrypted(p: Parsed, credential: SigningKey, election: string): Promise<number> {
  for (const f of ['contests', 'ciphertext-file', 'ciphertext-base64'])
    if (p.string(f) !== undefined)
      throw new UsageError(`--${f} is for an election without guardians; --choices names the contests`);
  const district = p.string('district');
  if (district === undefined)
    throw new UsageError("--district D (the credential's district) is required with --choices");
  const log = p.required('log');
  const logKey = p.string('log-key');
  const client = await logClient(log, logKey);
  let summary: ElectionSummary;
  try {
    summary = await client.election(election);
  } catch (e) {
    if (e instanceof LogError && e.status === 404) throw new Error(`the log has no election ${election}`);
    throw e;
  }
  if (summary.key === undefined)
    throw new UsageError(
      `election ${election} has no guardians: its ballots are opaque (--contests with --ciphertext-file or --ciphertext-base64)`,
    );
  parseChoices(p.list('choices'), summary.contests); // a usage error before anything is read or signed
  const reader =
    logKey === undefined
      ? undefined
      : new LogReader(log, {
          logKey: await readVerifierKeyArg(logKey),
          http: { maxRetries: 4, maxDelayMs: 2000 },
        });
  let source;
  try {
    source = await electionContext(summary, reader);
  } catch (e) {
    if (e instanceof KeyNotFixedError) throw new Error(`${e.message}: nothing submitted`);
    throw e;
  }
  const choices = parseChoices(p.list('choices'), source.ctx.contests);
  let encrypted;
  try {
    encrypted = encryptBallot(source.ctx, district, choices, fromBase64(credential.key));
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--choices: ${e.message}`);
    throw e;
  }
  const bytes = signRecord({ v: 1, type: 'ballot', election, body: encrypted.body }, credential.seed);
  const tracker = ballotTracker(bytes);
  // The voter keeps the tracker even if the submission fails; a challenge compares it with the opening.
  say(`tracker ${tracker}`);
  if (source.authenticated)
    say(
      `encrypted under the key all ${source.view.guardians.size} guardians accepted, read from the log at size ${source.view.head.size}`,
    );
  if (p.bool('challenge')) {
    await spoilBallot(p, client, credential, bytes, tracker, encrypted.nonces, choices);
    return 0;
  }
  await submitBallot(p, client, bytes, `${tracker}.receipt`);
  return 0;
}

export const castCommand: Command = {
  name: 'cast',
  summary:
    'casts a ballot: prints its tracker first, then submits it and saves (with --log-key, verifies) the receipt',
  description: `Signs a ballot record with the credential's key, prints "tracker TRACKER" (the record's leaf hash,
    which the voter keeps even if the submission fails), submits it, and saves the receipt (a c2sp.org/tlog-proof) to
    --receipt-out; with --log-key it also verifies the receipt's inclusion proof and checkpoint signature and says so.
    A later ballot of the same credential supersedes this one (when the election allows re-voting).

    In an election without guardians the ballot is opaque: the contests it answers (--contests) and the bytes of
    --ciphertext-file or --ciphertext-base64. In an encrypted election (with guardians) give --choices
    CONTEST=OPTION,... and --district D (the credential's district): the ballot is encrypted and proven here under
    the election's key, once every guardian accepted it (else nothing is submitted, exit 1). With --log-key the key,
    the election's hash and its contests come from the election and ceremony records, authenticated against a
    checkpoint signed by the log's key; without it they are the log's word. A contest not named is not on the
    ballot (it is not answered; CONTEST= answers it blank); a contest of several seats takes several options. An
    unknown contest or option, or too many votes in a contest, is a usage error (exit 2) before anything is signed.

    --challenge spoils the ballot instead (a Benaloh challenge): it is encrypted and its tracker printed, but the
    ballot is not cast. Its opening (the ballot's body and signature, and per contest the nonces and the choices) is
    published in a spoiled record signed by the credential, so the log refuses that ballot from now on
    (spoiled_ballot) and it can never count; the spoiled record's receipt is saved to --receipt-out (default
    TRACKER.spoiled.receipt), and the opening written to --spoiled-out (mode 0600, created before anything is
    published and removed if the log refuses the record), for urna verify spoiled to check that the ballot with that
    tracker encrypts those choices. Prints "index N spoiled" and "spoiled: published ...". Cast again to vote: a
    spoiled ballot's secrecy is gone.`,
  flags: [
    {
      name: 'credential',
      value: 'SKEYFILE',
      required: true,
      help: "the voter's credential key file (as urna credentials issue writes it)",
    },
    ELECTION_FLAG,
    {
      name: 'contests',
      value: 'A,B',
      help: 'the ids of the contests the ballot answers, comma-separated (an opaque ballot: required with --ciphertext-*)',
    },
    {
      name: 'ciphertext-file',
      value: 'FILE',
      oneOf: 'ballot',
      help: 'the encrypted ballot: the bytes of FILE (an election without guardians)',
    },
    {
      name: 'ciphertext-base64',
      value: 'B64',
      oneOf: 'ballot',
      help: 'the encrypted ballot, base64 (an election without guardians)',
    },
    {
      name: 'choices',
      value: 'C=O,...',
      oneOf: 'ballot',
      help: 'an encrypted election: the option chosen in each contest answered (CONTEST= : blank), comma-separated',
    },
    {
      name: 'district',
      value: 'D',
      help: "the credential's district, which an encrypted ballot states (required with --choices)",
    },
    {
      name: 'challenge',
      help: 'with --choices: spoil the ballot (a Benaloh challenge) instead of casting it: publish its opening, and write it',
    },
    {
      name: 'spoiled-out',
      value: 'FILE',
      help: 'with --challenge: where to write the opening (default: TRACKER.spoiled.json in the working directory)',
    },
    {
      name: 'receipt-out',
      value: 'FILE',
      help: "where to save the receipt (default: TRACKER.receipt, with --challenge the spoiled record's TRACKER.spoiled.receipt, in the working directory)",
    },
    LOG_FLAG,
    {
      name: 'log-key',
      value: 'VKEY',
      help: "the log's verifier key (text, or a file holding it): verify the receipt with it (and read an encrypted election's key authenticated)",
    },
  ],
  async run(p) {
    const credential = await readSigningKey(p.required('credential'), '--credential');
    const election = p.required('election');
    if (p.string('choices') !== undefined) return castEncrypted(p, credential, election);
    for (const f of ['district', 'challenge', 'spoiled-out'])
      if (p.string(f) !== undefined || (f === 'challenge' && p.bool(f)))
        throw new UsageError(`--${f} is for an encrypted ballot (--choices)`);
    const contests = p.list('contests');
    if (contests.length === 0)
      throw new UsageError('--contests A,B is required with --ciphertext-file or --ciphertext-base64');
    const file = p.string('ciphertext-file');
    const ciphertext = file !== undefined ? toBase64(await readFile(file)) : p.string('ciphertext-base64')!;
    const client = await logClient(p.required('log'), p.string('log-key'));
    const bytes = signRecord(
      { v: 1, type: 'ballot', election, body: { contests, ciphertext } },
      credential.seed,
    );
    const tracker = ballotTracker(bytes);
    // The voter keeps the tracker even if the submission fails.
    say(`tracker ${tracker}`);
    await submitBallot(p, client, bytes, `${tracker}.receipt`);
    return 0;
  },
};

/** Parses `--counts opt=n,opt=n` (its entries). */
function parseCounts(parts: string[]): { [option: string]: number } {
  if (parts.length === 0) throw new UsageError('--counts is empty');
  const counts: { [option: string]: number } = {};
  for (const part of parts) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--counts: expected OPTION=N, got ${part}`);
    if (Object.hasOwn(counts, m[1]!)) throw new UsageError(`--counts: ${m[1]} given twice`);
    counts[m[1]!] = parseInteger(m[2]!, `--counts ${m[1]}`);
  }
  return counts;
}

const STAGES: readonly Stage[] = ['preliminary', 'final'];

export const reportCommand: Command = {
  name: 'report',
  summary: "reports a district's count for one contest, with the SHA-256 of the scanned protocol",
  description: `Submits a report record signed by a reporter key the manifest names for a district containing D:
    the votes per option, blank and invalid ballots, and the SHA-256 of FILE (the signed paper protocol, e.g. its
    scan), which it prints as "protocol HEX". Reports are accepted while the election is closed; a final report
    follows the preliminary one for the same district and contest, after which no preliminary one is accepted.`,
  flags: [
    {
      name: 'key',
      value: 'SKEYFILE',
      required: true,
      help: "the reporter's signer key file",
    },
    ELECTION_FLAG,
    { name: 'district', value: 'D', required: true, help: 'the district counted' },
    { name: 'contest', value: 'C', required: true, help: 'the contest counted' },
    { name: 'stage', value: 'preliminary|final', required: true, help: 'which count this is' },
    {
      name: 'counts',
      value: 'OPT=N,OPT=N',
      required: true,
      help: 'the votes for each option, comma-separated',
    },
    {
      name: 'protocol',
      value: 'FILE',
      required: true,
      help: 'the protocol file whose SHA-256 the report carries',
    },
    { name: 'blank', value: 'N', default: '0', help: 'blank ballots' },
    { name: 'invalid', value: 'N', default: '0', help: 'invalid ballots' },
    LOG_FLAG,
  ],
  async run(p) {
    const reporter = await readSigningKey(p.required('key'), '--key');
    const stage = p.choice('stage', STAGES)!;
    const protocolFile = p.required('protocol');
    const protocol = toHex(hash(await readFile(protocolFile)));
    const bytes = signRecord(
      {
        v: 1,
        type: 'report',
        election: p.required('election'),
        body: {
          district: p.required('district'),
          contest: p.required('contest'),
          stage,
          counts: parseCounts(p.list('counts')),
          blank: p.int('blank')!,
          invalid: p.int('invalid')!,
          protocol,
        },
      },
      reporter.seed,
    );
    const client = await logClient(p.required('log'));
    const r = await client.submit(bytes);
    say(`index ${r.index} report ${stage}${dup(r)}`, `protocol ${protocol}`);
    return 0;
  },
};
