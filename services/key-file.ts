/**
 * Signer key files: written once with mode 0600, and refused when group or
 * others may read them (as ssh refuses a private key that is too open). A
 * key anyone else on the machine can read signs for them too.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { UrnaError } from '../ledger/errors.js';

/** A key file that cannot be used: missing, unreadable or too open. The message names the file. */
export class KeyFileError extends UrnaError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('key_file', message);
  }
}

/**
 * Reads a secret key file, trimmed. Throws KeyFileError if it is missing or
 * unreadable, or if its permissions let group or others read or write it.
 */
export async function readKeyFile(file: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new KeyFileError(file, `cannot read the key file ${file}: ${why}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0)
    throw new KeyFileError(
      file,
      `the key file ${file} has permissions 0${(mode & 0o777).toString(8)}: a signing key must be readable ` +
        `by its owner only (chmod 600 ${file})`,
    );
  return (await readFile(file, 'utf8')).trim();
}

/** Writes a new key file (mode 0600); never overwrites an existing file. */
export async function writeNewKeyFile(file: string, key: string): Promise<void> {
  await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' });
}
