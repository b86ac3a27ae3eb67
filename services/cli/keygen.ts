/** `urna keygen NAME --out FILE [--witness]`: a new signer key file (0600); the verifier key on stdout. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { generateCosignerKey } from '../../ledger/cosignature.js';
import { generateSignerKey } from '../../ledger/note.js';
import { UsageError } from './usage-error.js';

export async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, witness: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const [name, ...extra] = positionals;
  if (!name || extra.length || !values.out)
    throw new UsageError('usage: urna keygen NAME --out FILE [--witness]');
  const { signerKey, verifierKey } = values.witness ? generateCosignerKey(name) : generateSignerKey(name);
  // 'wx': never overwrite an existing key.
  await writeFile(values.out, signerKey + '\n', { mode: 0o600, flag: 'wx' });
  process.stdout.write(verifierKey + '\n');
  return 0;
}
