/**
 * `urna authorities`: changes the set of election authorities a log trusts,
 * with a `log` record signed by the log key (docs/DESIGN.md "Records").
 */
import { toBase64 } from '../../ledger/bytes.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { signRecord } from '../../ledger/record.js';
import { LOG_FLAG, logClient, readSigningKey, readVerifierKeyArg, say } from './client-common.js';
import type { Command } from './command.js';
import { UsageError } from './usage-error.js';

export const authoritiesCommand: Command = {
  name: 'authorities',
  summary: 'sets the election authorities the log trusts (a log record signed by the log key)',
  description: `Signs a log record with the log key (--key, the key urna serve signs checkpoints with; its name is the
    log's origin) naming the whole set of authorities the log trusts from then on, and submits it: to add one, list
    the ones it trusts and the new one; to retire one, leave it out. Elections already defined keep their authority.
    The log admits it only while no election is open (409 election_open). A log's first log record is written by
    urna serve (--authority) as its entry 0. Prints "index N log (K authorities)", having checked the receipt with
    the log key.`,
  flags: [
    {
      name: 'key',
      value: 'SKEYFILE',
      required: true,
      help: "the log's signer key file (urna serve's --key)",
    },
    {
      name: 'authority',
      value: 'VKEY',
      multiple: true,
      required: true,
      help: 'a verifier key (or a file holding one) of an authority the log is to trust',
    },
    LOG_FLAG,
  ],
  async run(p) {
    const log = await readSigningKey(p.required('key'), '--key');
    const authorities: string[] = [];
    for (const arg of p.list('authority')) {
      const text = await readVerifierKeyArg(arg);
      try {
        authorities.push(toBase64(parseVerifierKey(text).publicKey));
      } catch (e) {
        throw new UsageError(`--authority ${arg}: ${e instanceof Error ? e.message : e}`);
      }
    }
    const base = p.required('log');
    const client = await logClient(base, log.verifierKey);
    // The change names the state it changes: the number of log records so far.
    const current = await client.authorities();
    if (current.origin !== log.name)
      throw new UsageError(`--key is the key of ${log.name}, but the log at ${base} is ${current.origin}`);
    const body = { origin: log.name, sequence: current.records.length, authorities };
    const bytes = signRecord({ v: 1, type: 'log', body }, log.seed);
    const r = await client.submit(bytes);
    const n = authorities.length;
    say(
      `index ${r.index} log (${n} ${n === 1 ? 'authority' : 'authorities'})${r.duplicate ? ' (already in the log)' : ''}`,
    );
    return 0;
  },
};
