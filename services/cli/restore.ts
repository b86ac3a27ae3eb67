/** `urna restore`: rebuild a data dir from a mirror or any copy of the log's tiles (services/restore.ts). */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSignerKey } from '../../ledger/note.js';
import { useNativeCrypto } from '../crypto/native.js';
import { readKeyFile } from '../key-file.js';
import { createLogger, LOG_LEVELS } from '../log.js';
import { restore } from '../restore.js';
import { FileSignerState } from '../storage/signer-state.js';
import type { Command } from './command.js';
import { readVerifierKeyArg } from './client-common.js';
import { UsageError } from './usage-error.js';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export const restoreCommand: Command = {
  name: 'restore',
  summary:
    'rebuild a data dir from a mirror or any copy of the log tiles, verified against what the log key signed',
  description: `Downloads every entry from the tlog-tiles source URL (a mirror, another node, a static copy of the
    tiles), checks its checkpoint with the log key and against the signer state (the source must not be behind the last
    checkpoint the key signed), applies every entry through the log's rules into a new database, and checks the roots it
    recomputes. Only then is the old database moved aside (never deleted) and the new one moved in; the signer state is
    advanced to the source's checkpoint. Stop the node first. The log key comes from --key (whose signer state is
    KEYFILE.checkpoint), or DIR/log.key; with only --log-key, give --signer-state to check against it.`,
  flags: [
    {
      name: 'from',
      value: 'URL',
      required: true,
      help: 'the tlog-tiles source: a mirror, a node, a static copy',
    },
    {
      name: 'data',
      value: 'DIR',
      env: 'URNA_DATA',
      default: './data',
      help: 'the data directory to restore',
    },
    {
      name: 'key',
      value: 'SKEYFILE',
      env: 'URNA_KEY',
      help: 'the log signer key (default DIR/log.key if present)',
    },
    {
      name: 'log-key',
      value: 'VKEY',
      help: "the log's verifier key (text or file), when the signer key is not at hand",
    },
    {
      name: 'signer-state',
      value: 'FILE',
      env: 'URNA_SIGNER_STATE',
      help: 'the signer state to check against and advance (default: the key file with .checkpoint appended)',
    },
    {
      name: 'rules',
      value: 'election|none',
      env: 'URNA_RULES',
      default: 'election',
      help: 'the rules the log runs, as given to urna serve',
    },
    { name: 'concurrency', value: 'N', default: '8', help: 'entry bundles downloaded at once' },
    {
      name: 'log-level',
      value: 'LEVEL',
      env: 'URNA_LOG_LEVEL',
      default: 'info',
      help: `structured logs on stderr from this level on: ${LOG_LEVELS.join(', ')}`,
    },
  ],
  async run(p) {
    useNativeCrypto();
    const dataDir = p.required('data');
    const log = createLogger(p.choice('log-level', LOG_LEVELS)!);
    let keyFile = p.string('key');
    if (
      keyFile === undefined &&
      p.string('log-key') === undefined &&
      (await exists(join(dataDir, 'log.key')))
    )
      keyFile = join(dataDir, 'log.key');
    let verifierKey: string;
    if (keyFile !== undefined) verifierKey = parseSignerKey(await readKeyFile(keyFile)).verifierKey;
    else if (p.string('log-key') !== undefined) verifierKey = await readVerifierKeyArg(p.string('log-key')!);
    else
      throw new UsageError(`--key SKEYFILE or --log-key VKEY is required (no ${join(dataDir, 'log.key')})`);
    const stateFile =
      p.string('signer-state') ?? (keyFile === undefined ? undefined : `${keyFile}.checkpoint`);
    const rules = p.choice('rules', ['election', 'none'])!;
    let last = 0;
    const result = await restore({
      from: p.required('from'),
      dataDir,
      logKey: verifierKey,
      signerState: stateFile === undefined ? null : new FileSignerState(stateFile),
      rules,
      concurrency: p.int('concurrency', 1)!,
      log,
      onProgress: (applied, size) => {
        if (applied - last >= 100_000 || applied === size) {
          last = applied;
          log.info({ applied, size }, 'restoring');
        }
      },
    });
    process.stdout.write(
      `urna: restored ${result.size} entries into ${dataDir}` +
        (result.replaced ? ` (the old database is in ${result.replaced})` : '') +
        '\n',
    );
    return 0;
  },
};
