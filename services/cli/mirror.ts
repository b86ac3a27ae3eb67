/** `urna mirror`: a read-only copy of a replicated log, rebuilt from its journal. */
import { parseArgs } from 'node:util';
import { mirror } from '../server.js';
import { readVerifierKeyArg } from './client-common.js';
import { authorityList, closeOnSignals, natsReplicas, parseListen, rulesMode } from './serve.js';
import { UsageError } from './usage-error.js';

export async function mirrorCommand(args: string[]): Promise<number> {
  const env = process.env;
  const { values } = parseArgs({
    args,
    options: {
      nats: { type: 'string' },
      'nats-replicas': { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      'log-key': { type: 'string' },
      rules: { type: 'string' },
      authority: { type: 'string', multiple: true },
      log: { type: 'boolean' },
    },
  });
  const nats = values.nats ?? env.URNA_NATS;
  if (!nats) throw new UsageError('--nats URL is required (the NATS servers carrying the journal)');
  const logKeyArg = values['log-key'] ?? env.URNA_LOG_KEY;
  if (!logKeyArg) throw new UsageError('--log-key VKEY is required (the log verifier key, text or file)');
  const { host, port } = parseListen(values.listen ?? env.URNA_LISTEN ?? '127.0.0.1:8081');
  const node = await mirror({
    nats,
    natsReplicas: natsReplicas(values['nats-replicas'] ?? env.URNA_NATS_REPLICAS),
    dataDir: values.data ?? env.URNA_DATA ?? './mirror-data',
    host,
    port,
    logKey: await readVerifierKeyArg(logKeyArg),
    rules: rulesMode(values.rules ?? env.URNA_RULES ?? 'election'),
    authorities: authorityList(values.authority),
    log: values.log ?? env.URNA_LOG === '1',
  });
  process.stdout.write(`urna: mirror of ${node.verifierKey}\nurna: listening on ${node.url}\n`);
  closeOnSignals(node);
  return 0;
}
