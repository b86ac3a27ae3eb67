/** `urna monitor`: follows a log's checkpoints from many sources and raises split-view alarms (services/monitor/). */
import { readFile } from 'node:fs/promises';
import { connect } from 'nats';
import { parsePolicy } from '../../ledger/policy.js';
import { createLogger, LOG_LEVELS } from '../log.js';
import { buildMonitorApp } from '../monitor/http.js';
import { Monitor } from '../monitor/monitor.js';
import { LOG_KEY_FLAG, readVerifierKeyArg } from './client-common.js';
import type { Command } from './command.js';
import { NODE_FLAGS, parseListen } from './serve.js';
import { UsageError } from './usage-error.js';
import { useNativeCrypto } from '../crypto/native.js';

export const monitorCommand: Command = {
  name: 'monitor',
  summary:
    'follows checkpoints from every source, gossips them, and raises an alarm with evidence on a split view',
  description: `Every --interval it reads the checkpoint of each --source (a log, a mirror, any cache or static copy of
    the tiles, a witness's /<hash of the origin>/ prefix) and the gossip of each --peer monitor, and with --nats it
    takes urna.<log>.checkpoint, .cosig and .gossip as they come. Each checkpoint must verify with the log key and be
    consistent with the largest seen, checked from tiles it authenticates under the larger one (never a served
    proof). On a split view it writes the evidence (urna verify alarm checks it with the log key alone) to --data,
    publishes it on urna.<log>.alarm, logs it and shows it on GET /status; GET /healthz answers 503; --once exits 1.
    With --witness-policy it reports whether the largest checkpoint makes the quorum, and calls the log stale when the
    newest quorum cosignature is older than --max-age. --once: one round, then exit 0 (consistent), 1 (alarm) or 2
    (no source gave a checkpoint that verifies).`,
  flags: [
    LOG_KEY_FLAG,
    {
      name: 'source',
      value: 'URL',
      multiple: true,
      env: 'URNA_SOURCES',
      help: 'a tlog-tiles source to read checkpoints (and tiles) from',
    },
    {
      name: 'peer',
      value: 'URL',
      multiple: true,
      env: 'URNA_PEERS',
      help: 'another monitor, whose /gossip it reads',
    },
    { name: 'witness-policy', value: 'FILE', env: 'URNA_WITNESS_POLICY', help: 'a C2SP tlog-policy file' },
    {
      name: 'nats',
      value: 'URL[,URL...]',
      env: 'URNA_NATS',
      help: "NATS servers carrying the log's subjects",
    },
    {
      name: 'data',
      value: 'DIR',
      env: 'URNA_DATA',
      default: './monitor-data',
      help: 'where alarms are written',
    },
    {
      name: 'listen',
      value: 'HOST:PORT',
      env: 'URNA_LISTEN',
      help: 'serve /gossip, /status and /healthz here',
    },
    {
      name: 'interval',
      value: 'SECONDS',
      env: 'URNA_INTERVAL',
      default: '5',
      help: 'seconds between rounds',
    },
    {
      name: 'max-age',
      value: 'SECONDS',
      env: 'URNA_MAX_AGE',
      default: '3600',
      help: 'with --witness-policy: the newest quorum cosignature older than this makes the log stale',
    },
    { name: 'once', help: 'one round, then exit 0 (no alarm) or 1 (alarm)' },
    ...NODE_FLAGS.filter((f) => f.name === 'log-level'),
  ],
  async run(p) {
    const log = createLogger(p.choice('log-level', LOG_LEVELS)!);
    useNativeCrypto();
    const sources = p.list('source');
    const peers = p.list('peer');
    if (sources.length + peers.length === 0 && !p.string('nats'))
      throw new UsageError('give at least one --source, --peer or --nats');
    let policy;
    const policyFile = p.string('witness-policy');
    if (policyFile) {
      try {
        policy = parsePolicy(await readFile(policyFile, 'utf8'));
      } catch (e) {
        throw new UsageError(`--witness-policy ${policyFile}: ${e instanceof Error ? e.message : e}`);
      }
    }
    const natsUrl = p.string('nats');
    const nc = natsUrl ? await connect({ servers: natsUrl.split(',') }) : undefined;
    const monitor = new Monitor({
      logKey: await readVerifierKeyArg(p.required('log-key')),
      sources,
      peers,
      ...(policy ? { policy } : {}),
      ...(nc ? { nats: nc } : {}),
      dataDir: p.string('data')!,
      intervalMs: p.requiredInt('interval', 1) * 1000,
      maxAgeMs: p.requiredInt('max-age', 1) * 1000,
      log,
    });
    if (p.bool('once')) {
      await monitor.round();
      const s = monitor.status();
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      await nc?.close();
      if (s.alarms.length) return 1;
      if (!s.largest) {
        process.stderr.write('urna monitor: no source gave a checkpoint that verifies with the log key\n');
        return 2;
      }
      return 0;
    }
    monitor.start();
    const listen = p.string('listen');
    const app = listen ? await buildMonitorApp(monitor) : null;
    if (app && listen) {
      const { host, port } = parseListen(listen);
      const url = await app.listen({ host, port });
      process.stdout.write(`urna: monitor of ${monitor.origin}\nurna: listening on ${url}\n`);
    } else process.stdout.write(`urna: monitor of ${monitor.origin}\n`);
    return new Promise<number>((resolve) => {
      const stop = () => {
        void (async () => {
          await app?.close();
          await monitor.close();
          await nc?.close();
          resolve(monitor.alarms.length ? 1 : 0);
        })();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
