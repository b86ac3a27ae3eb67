/** `urna keygen NAME --out FILE [--witness]`: a new signer key file (0600); the verifier key on stdout. */
import { writeFile } from 'node:fs/promises';
import { generateCosignerKey } from '../../ledger/cosignature.js';
import { generateSignerKey } from '../../ledger/note.js';
import type { Command } from './command.js';

export const keygenCommand: Command = {
  name: 'keygen',
  args: 'NAME',
  summary: 'a new signer key named NAME in a file (mode 0600); prints its verifier key',
  description: `Writes a new Ed25519 signer key (PRIVATE+KEY+NAME+keyid+base64) to FILE, never overwriting an
    existing file, and prints the matching verifier key (NAME+keyid+base64), as urna serve --authority, election
    manifests and --log-key take it. NAME is the key's name: for a log key, the log origin.`,
  flags: [
    { name: 'out', value: 'FILE', required: true, help: 'the key file to create (it must not exist)' },
    {
      name: 'witness',
      help: 'a witness key: for tlog-cosignatures (signature type 0x04) instead of note signatures (0x01)',
    },
  ],
  async run(p) {
    const [name] = p.positionals as [string];
    const { signerKey, verifierKey } = p.bool('witness')
      ? generateCosignerKey(name)
      : generateSignerKey(name);
    // 'wx': never overwrite an existing key.
    await writeFile(p.required('out'), signerKey + '\n', { mode: 0o600, flag: 'wx' });
    process.stdout.write(verifierKey + '\n');
    return 0;
  },
};
