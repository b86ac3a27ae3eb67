/**
 * The election clients of the `urna` command: `election create`,
 * `credentials issue`, `phase`, `cast` and `report`. Each signs records with
 * a key file and submits them to a log (verifier/client.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromBase64, toBase64, toHex } from '../../ledger/bytes.js';
import { ed25519, randomSeed } from '../../ledger/ed25519.js';
import { hash } from '../../ledger/hash.js';
import { ED25519_TYPE, formatSignerKey } from '../../ledger/note.js';
import { verifyReceipt } from '../../ledger/receipt.js';
import {
  ballotTracker,
  signRecord,
  type CredentialDef,
  type ElectionBody,
  type Phase,
  type Stage,
} from '../../ledger/record.js';
import type { SubmitResult } from '../../verifier/client.js';
import {
  intFlag,
  listFlag,
  logClient,
  readSigningKey,
  required,
  say,
  type SigningKey,
} from './client-common.js';
import { credentialRecords, normalizeRoles, planElection, recordKey, signAll } from './election-records.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { nativeEd25519 } from '../crypto/native-ed25519.js';
import { UsageError } from './usage-error.js';

const LOG_OPTION = { log: { type: 'string' } } as const;

function dup(r: SubmitResult): string {
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

/** `urna election create --log URL --key AUTHORITY_SKEYFILE --manifest FILE`. */
export async function electionCommand(args: string[]): Promise<number> {
  const usage = 'usage: urna election create --log URL --key AUTHORITY_SKEYFILE --manifest FILE';
  const [verb, ...rest] = args;
  if (verb !== 'create') throw new UsageError(usage);
  const { values } = parseArgs({
    args: rest,
    options: { ...LOG_OPTION, key: { type: 'string' }, manifest: { type: 'string' } },
  });
  const authority = await readSigningKey(values.key, '--key');
  const file = required(values.manifest, '--manifest');
  let manifest: ElectionBody;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8')) as ElectionBody;
  } catch (e) {
    throw new UsageError(`--manifest ${file}: ${e instanceof Error ? e.message : e}`);
  }
  const { records, districts } = signElection(manifest, authority);
  const client = await logClient(values);
  say(`election ${manifest.id}`);
  // In order: each districts record may need the ones before it.
  for (const [i, bytes] of records.entries()) {
    const r = await client.submit(bytes);
    say(`index ${r.index} ${i === 0 ? 'election' : 'districts'} (${districts[i]} districts)${dup(r)}`);
  }
  return 0;
}

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
    if (weight !== undefined) c.weight = intFlag(weight, `--keys ${file}:${n + 1} weight`, undefined, 1);
    list.push(c);
  }
  return list;
}

/**
 * `urna credentials issue --log URL --key REGISTRAR_SKEYFILE --election ID
 * (--count N --district D --out DIR | --keys FILE [--district D])`.
 */
export async function credentialsCommand(args: string[]): Promise<number> {
  const usage =
    'usage: urna credentials issue --log URL --key REGISTRAR_SKEYFILE --election ID\n' +
    '         (--count N --district D --out DIR | --keys FILE [--district D])';
  const [verb, ...rest] = args;
  if (verb !== 'issue') throw new UsageError(usage);
  const { values } = parseArgs({
    args: rest,
    options: {
      ...LOG_OPTION,
      key: { type: 'string' },
      election: { type: 'string' },
      count: { type: 'string' },
      district: { type: 'string' },
      out: { type: 'string' },
      keys: { type: 'string' },
    },
  });
  setEd25519Backend(nativeEd25519);
  const registrar = await readSigningKey(values.key, '--key');
  const election = required(values.election, '--election');
  let credentials: CredentialDef[];
  if (values.keys !== undefined) {
    if (values.count !== undefined || values.out !== undefined)
      throw new UsageError('--keys excludes --count and --out');
    credentials = await readCredentialList(values.keys, values.district);
  } else {
    const count = intFlag(values.count, '--count', undefined, 1);
    const district = required(values.district, '--district');
    const out = required(values.out, '--out');
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
  const client = await logClient(values);
  // Credentials records are independent of each other.
  const results = await client.submitMany(records, 8);
  results.forEach((r, i) => {
    const n = (unsigned[i]!.body as { credentials: unknown[] }).credentials.length;
    say(`index ${r.index} credentials (${n} credentials)${dup(r)}`);
  });
  say(`issued ${credentials.length} credentials in ${results.length} records`);
  return 0;
}

/** `urna phase --log URL --key AUTHORITY_SKEYFILE --election ID open|close|final`. */
export async function phaseCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...LOG_OPTION, key: { type: 'string' }, election: { type: 'string' } },
    allowPositionals: true,
  });
  const [phase, ...extra] = positionals;
  if (!['open', 'close', 'final'].includes(phase ?? '') || extra.length)
    throw new UsageError(
      'usage: urna phase --log URL --key AUTHORITY_SKEYFILE --election ID open|close|final',
    );
  const authority = await readSigningKey(values.key, '--key');
  const election = required(values.election, '--election');
  const bytes = signRecord(
    { v: 1, type: 'phase', election, body: { phase: phase as Phase } },
    authority.seed,
  );
  const client = await logClient(values);
  const r = await client.submit(bytes);
  say(`index ${r.index} phase ${phase}${dup(r)}`);
  return 0;
}

/**
 * `urna cast --log URL --credential SKEYFILE --election ID --contests a,b
 * (--ciphertext-file FILE | --ciphertext-base64 B64) [--receipt-out FILE]
 * [--log-key VKEY]`: prints the ballot tracker, then submits, then saves
 * (and with --log-key verifies) the receipt.
 */
export async function castCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...LOG_OPTION,
      credential: { type: 'string' },
      election: { type: 'string' },
      contests: { type: 'string' },
      'ciphertext-file': { type: 'string' },
      'ciphertext-base64': { type: 'string' },
      'receipt-out': { type: 'string' },
      'log-key': { type: 'string' },
    },
  });
  const credential = await readSigningKey(values.credential, '--credential');
  const election = required(values.election, '--election');
  const contests = listFlag(values.contests, '--contests');
  const file = values['ciphertext-file'];
  const b64 = values['ciphertext-base64'];
  if ((file === undefined) === (b64 === undefined))
    throw new UsageError('give exactly one of --ciphertext-file FILE and --ciphertext-base64 B64');
  const ciphertext = file !== undefined ? toBase64(await readFile(file)) : b64!;
  const client = await logClient(values);
  const bytes = signRecord(
    { v: 1, type: 'ballot', election, body: { contests, ciphertext } },
    credential.seed,
  );
  const tracker = ballotTracker(bytes);
  // The voter keeps the tracker even if the submission fails.
  say(`tracker ${tracker}`);
  const result = await client.submit(bytes);
  const out = values['receipt-out'] ?? `${tracker}.receipt`;
  await writeFile(out, result.receipt);
  say(`index ${result.index}${dup(result)}`, `receipt ${out}`);
  if (client.verifier) {
    // LogClient.submit verified it already; say what was checked.
    const { checkpoint } = verifyReceipt(result.receipt, { entry: bytes }, client.verifier);
    say(`verified inclusion in ${checkpoint.origin} at size ${checkpoint.size}`);
  }
  return 0;
}

/** Parses `opt=n,opt=n`. */
function parseCounts(text: string): { [option: string]: number } {
  const counts: { [option: string]: number } = {};
  for (const part of listFlag(text, '--counts')) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--counts: expected OPTION=N, got ${part}`);
    if (Object.hasOwn(counts, m[1]!)) throw new UsageError(`--counts: ${m[1]} given twice`);
    counts[m[1]!] = intFlag(m[2], `--counts ${m[1]}`);
  }
  return counts;
}

/**
 * `urna report --log URL --key REPORTER_SKEYFILE --election E --district D
 * --contest C --stage preliminary|final --counts opt=n,... [--blank N]
 * [--invalid N] --protocol FILE`.
 */
export async function reportCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...LOG_OPTION,
      key: { type: 'string' },
      election: { type: 'string' },
      district: { type: 'string' },
      contest: { type: 'string' },
      stage: { type: 'string' },
      counts: { type: 'string' },
      blank: { type: 'string' },
      invalid: { type: 'string' },
      protocol: { type: 'string' },
    },
  });
  const reporter = await readSigningKey(values.key, '--key');
  const stage = required(values.stage, '--stage');
  if (stage !== 'preliminary' && stage !== 'final')
    throw new UsageError('--stage must be preliminary or final');
  const protocolFile = required(values.protocol, '--protocol');
  const protocol = toHex(hash(await readFile(protocolFile)));
  const bytes = signRecord(
    {
      v: 1,
      type: 'report',
      election: required(values.election, '--election'),
      body: {
        district: required(values.district, '--district'),
        contest: required(values.contest, '--contest'),
        stage: stage as Stage,
        counts: parseCounts(required(values.counts, '--counts')),
        blank: intFlag(values.blank, '--blank', 0),
        invalid: intFlag(values.invalid, '--invalid', 0),
        protocol,
      },
    },
    reporter.seed,
  );
  const client = await logClient(values);
  const r = await client.submit(bytes);
  say(`index ${r.index} report ${stage}${dup(r)}`, `protocol ${protocol}`);
  return 0;
}
