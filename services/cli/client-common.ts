/** What the `urna` client commands share: key files, the log client, number flags, output. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { toBase64 } from '../../ledger/bytes.js';
import { decodeSignerKey, ED25519_TYPE, formatVerifierKey } from '../../ledger/note.js';
import { LogClient } from '../../verifier/client.js';
import { UsageError } from './usage-error.js';

/** The log a client talks to when `--log` is not given: `urna serve`'s default address. */
export const DEFAULT_LOG_URL = 'http://127.0.0.1:8080';

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
 * `urna keygen` writes it). Throws UsageError if `file` is missing, and
 * MalformedError for a bad or non-Ed25519 (e.g. witness) key.
 */
export async function readSigningKey(file: string | undefined, flag: string): Promise<SigningKey> {
  if (!file) throw new UsageError(`${flag} SKEYFILE is required`);
  const decoded = decodeSignerKey((await readFile(file, 'utf8')).trim());
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
export async function logClient(values: { log?: string | undefined; 'log-key'?: string | undefined }) {
  const logKey = values['log-key'] === undefined ? undefined : await readVerifierKeyArg(values['log-key']);
  try {
    return new LogClient(values.log ?? DEFAULT_LOG_URL, logKey === undefined ? {} : { logKey });
  } catch (e) {
    throw new UsageError(`--log/--log-key: ${e instanceof Error ? e.message : e}`);
  }
}

/** A required string flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** A non-negative integer flag (`fallback` when absent). Throws UsageError. */
export function intFlag(value: string | undefined, flag: string, fallback?: number, min = 0): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${flag} must be an integer of at least ${min}, got ${value}`);
  return n;
}

/** A comma-separated list flag, without empty entries. */
export function listFlag(value: string | undefined, flag: string): string[] {
  const list = required(value, flag)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new UsageError(`${flag} is empty`);
  return list;
}

/** Writes lines to stdout. */
export function say(...lines: string[]): void {
  process.stdout.write(lines.map((l) => l + '\n').join(''));
}
