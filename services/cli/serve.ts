/** `urna serve`: flags over environment variables over defaults. */
import { parseArgs } from 'node:util';
import { serve } from '../server.js';
import type { FaultPoint } from '../sequencer/sequencer.js';
import { UsageError } from './usage-error.js';

function intValue(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a positive integer, got ${text}`);
  return n;
}

export function rulesMode(text: string): 'election' | 'none' {
  if (text !== 'election' && text !== 'none')
    throw new UsageError(`--rules must be election or none, got ${text}`);
  return text;
}

/** Splits HOST:PORT (IPv6 in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT, got ${text}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export async function serveCommand(args: string[]): Promise<number> {
  const env = process.env;
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' },
      listen: { type: 'string' },
      key: { type: 'string' },
      origin: { type: 'string' },
      'batch-ms': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-pending': { type: 'string' },
      log: { type: 'boolean' },
      rules: { type: 'string' },
      authority: { type: 'string', multiple: true },
      nats: { type: 'string' },
      'nats-replicas': { type: 'string' },
      'node-id': { type: 'string' },
      advertise: { type: 'string' },
      'lease-ms': { type: 'string' },
    },
  });
  const { host, port } = parseListen(values.listen ?? env.URNA_LISTEN ?? '127.0.0.1:8080');
  const crashAt = (env.URNA_CRASH_AT ?? '').split(',').filter(Boolean) as FaultPoint[];
  const keyFile = values.key ?? env.URNA_KEY;
  const nats = values.nats ?? env.URNA_NATS;
  const replicas = natsReplicas(values['nats-replicas'] ?? env.URNA_NATS_REPLICAS);
  const nodeId = values['node-id'] ?? env.URNA_NODE_ID;
  const advertise = values.advertise ?? env.URNA_ADVERTISE;
  if (advertise !== undefined && !/^https?:\/\/[^/]+/.test(advertise))
    throw new UsageError(`--advertise must be an http(s) URL, got ${advertise}`);
  const leaseText = values['lease-ms'] ?? env.URNA_LEASE_MS;
  const server = await serve({
    dataDir: values.data ?? env.URNA_DATA ?? './data',
    host,
    port,
    ...(keyFile ? { keyFile } : {}),
    ...(nats ? { nats, natsReplicas: replicas } : {}),
    ...(nodeId ? { nodeId } : {}),
    ...(advertise ? { advertise } : {}),
    ...(leaseText ? { leaseMs: intValue('--lease-ms', leaseText, 3000) } : {}),
    origin: values.origin ?? env.URNA_ORIGIN ?? 'urna.localhost/log',
    batchPeriodMs: intValue('--batch-ms', values['batch-ms'] ?? env.URNA_BATCH_MS, 100),
    maxBatch: intValue('--max-batch', values['max-batch'] ?? env.URNA_MAX_BATCH, 4096),
    maxPending: intValue('--max-pending', values['max-pending'] ?? env.URNA_MAX_PENDING, 65536),
    rules: rulesMode(values.rules ?? env.URNA_RULES ?? 'election'),
    authorities: authorityList(values.authority),
    crashAt,
    crashProbability: Number(env.URNA_CRASH_PROBABILITY ?? '1'),
    log: values.log ?? env.URNA_LOG === '1',
  });
  process.stdout.write(`urna: log ${server.verifierKey}\nurna: listening on ${server.url}\n`);
  closeOnSignals(server);
  return 0;
}

/** --authority flags, else URNA_AUTHORITIES (whitespace or comma separated). */
export function authorityList(flags: string[] | undefined): string[] {
  return flags ?? (process.env.URNA_AUTHORITIES ?? '').split(/[\s,]+/).filter(Boolean);
}

/** --nats-replicas: 1 (default) or 3. */
export function natsReplicas(text: string | undefined): 1 | 3 {
  if (text === undefined || text === '1') return 1;
  if (text === '3') return 3;
  throw new UsageError(`--nats-replicas must be 1 or 3, got ${text}`);
}

/** Closes `node` gracefully on SIGINT/SIGTERM, then exits (0, or 1 if closing failed). */
export function closeOnSignals(node: { close(): Promise<void> }): void {
  const shutdown = (signal: string) => {
    process.stderr.write(`urna: ${signal}, shutting down\n`);
    node.close().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`urna: shutdown failed: ${e}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
