/** What the `urna` client commands share: the --log flag, key files, the log client, output. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { toBase64 } from '../../ledger/bytes.js';
import { decodeSignerKey, ED25519_TYPE, formatVerifierKey } from '../../ledger/note.js';
import { LogClient } from '../../verifier/client.js';
import type { Flag } from './command.js';
import { readKeyFile } from '../key-file.js';
import { UsageError } from './usage-error.js';

/** The log a client talks to when `--log` is not given: `urna serve`'s default address. */
export const DEFAULT_LOG_URL = 'http://127.0.0.1:8080';

/** `--log URL`: the log a client command submits to. */
export const LOG_FLAG: Flag = {
  name: 'log',
  value: 'URL',
  default: DEFAULT_LOG_URL,
  help: "the log's base URL (where urna serve listens)",
};

/** `--log-key VKEY`, required: the log's verifier key, as text or a file holding it (readVerifierKeyArg). */
export const LOG_KEY_FLAG: Flag = {
  name: 'log-key',
  value: 'VKEY',
  env: 'URNA_LOG_KEY',
  required: true,
  help: "the log's verifier key (text, or a file holding it)",
};

/** A record signing key read from a key file. */
export type SigningKey = {
  /** The key's name in the file. */
  name: string;
  /** The 32-byte Ed25519 seed. */
  seed: Uint8Array;
  /** The base64 public key, as records carry it (`signer`). */
  key: string;
  /** The verifier key text (`name+keyid+base64(0x01||key)`), as `urna serve --authority` takes it. */
  verifierKey: string;
};

/**
 * Reads a signer key file (`PRIVATE+KEY+name+keyid+base64(0x01||seed)`, as
 * `urna keygen` writes it), given by flag `flag` (named in errors). Throws
 * KeyFileError for a missing file or one that group or others may read,
 * MalformedError for a bad key, UsageError for a non-Ed25519 (e.g.
 * witness) one.
 */
export async function readSigningKey(file: string, flag: string): Promise<SigningKey> {
  const decoded = decodeSignerKey(await readKeyFile(file));
  if (decoded.type !== ED25519_TYPE)
    throw new UsageError(`${flag} ${file}: not an Ed25519 signing key (type ${decoded.type})`);
  return {
    name: decoded.name,
    seed: decoded.seed,
    key: toBase64(decoded.publicKey),
    verifierKey: formatVerifierKey(decoded.name, ED25519_TYPE, decoded.publicKey),
  };
}

/** A verifier key given as text, or as a file holding it. */
export async function readVerifierKeyArg(value: string): Promise<string> {
  return existsSync(value) ? (await readFile(value, 'utf8')).trim() : value.trim();
}

/** The log client for `--log` (and `--log-key`, verifying receipts, when given). */
export async function logClient(log: string, logKeyArg?: string) {
  const logKey = logKeyArg === undefined ? undefined : await readVerifierKeyArg(logKeyArg);
  try {
    return new LogClient(log, logKey === undefined ? {} : { logKey });
  } catch (e) {
    throw new UsageError(`--log/--log-key: ${e instanceof Error ? e.message : e}`);
  }
}

/** Writes lines to stdout. */
export function say(...lines: string[]): void {
  process.stdout.write(lines.map((l) => l + '\n').join(''));
}
