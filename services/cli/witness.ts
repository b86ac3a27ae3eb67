/** `urna witness`: a C2SP tlog-witness v1.0.0 server for one or more logs (services/witness/). */
import { parseVerifierKey, type NoteVerifier } from '../../ledger/note.js';
import { parseCosignerKey } from '../../ledger/cosignature.js';
import { readKeyFile } from '../key-file.js';
import { createLogger, LOG_LEVELS } from '../log.js';
import { buildWitnessApp } from '../witness/http.js';
import { WitnessStore } from '../witness/store.js';
import { Witness } from '../witness/witness.js';
import { WitnessFollower } from '../witness/follower.js';
import { connect, type NatsConnection } from 'nats';
import { readVerifierKeyArg } from './client-common.js';
import type { Command, Parsed } from './command.js';
import { NODE_FLAGS, parseListen, untilStopped } from './serve.js';
import { UsageError } from './usage-error.js';
import { useNativeCrypto } from '../crypto/native.js';

/** The node flags a witness takes: logging, HTTP connection limits and timeouts, shutdown. */
const WITNESS_NODE_FLAGS = NODE_FLAGS.filter((f) =>
  [
    'log-level',
    'max-connections',
    'max-connections-per-client',
    'headers-timeout-ms',
    'request-timeout-ms',
    'keep-alive-ms',
    'trust-proxy',
    'shutdown-ms',
  ].includes(f.name),
);

/**
 * One `--log VKEY[=URL]`: a log's verifier key (text, or a file holding it),
 * optionally with where to read it. The key's base64 may end in `=`, so the
 * URL is what follows `=http://` or `=https://`.
 */
export async function parseWitnessedLog(
  arg: string,
): Promise<{ verifier: NoteVerifier; verifierKey: string; url: string | null }> {
  const m = /^(.*?)=(https?:\/\/.*)$/.exec(arg);
  const keyArg = m ? m[1]! : arg;
  const url = m ? m[2]! : null;
  try {
    const verifierKey = await readVerifierKeyArg(keyArg);
    const verifier = parseVerifierKey(verifierKey);
    if (url !== null) new URL(url);
    return { verifier, verifierKey, url };
  } catch (e) {
    throw new UsageError(`--log ${arg}: ${e instanceof Error ? e.message : e}`);
  }
}

export const witnessCommand: Command = {
  name: 'witness',
  summary: 'a C2SP tlog-witness: cosigns checkpoints consistent with the ones it cosigned before',
  description: `Serves POST /add-checkpoint (c2sp.org/tlog-witness v1.0.0) for each --log: it cosigns a checkpoint
    (tlog-cosignature v1, the key made by urna keygen NAME --witness) only when it carries a valid signature by the
    log's key and is consistent with the last one it cosigned for that log, and it writes the new size to LevelDB in
    DIR (fsync) before it answers. 404 unknown log, 403 no valid signature by the log key, 400 malformed or an old
    size above the checkpoint's, 409 with the size it holds (text/x.tlog.size), 422 a proof that does not verify, 429
    when overloaded. GET /<hex SHA-256 of the origin>/checkpoint serves the latest checkpoint it cosigned for
    monitors. Keep DIR: a witness that lost it must not cosign again under the same key.`,
  flags: [
    { name: 'data', value: 'DIR', env: 'URNA_DATA', default: './witness-data', help: 'the data directory' },
    {
      name: 'key',
      value: 'SKEYFILE',
      env: 'URNA_KEY',
      required: true,
      help: "the witness's cosigner key file (urna keygen NAME --witness)",
    },
    {
      name: 'listen',
      value: 'HOST:PORT',
      env: 'URNA_LISTEN',
      default: '127.0.0.1:8082',
      help: 'HTTP address',
    },
    {
      name: 'log',
      value: 'VKEY[=URL]',
      multiple: true,
      required: true,
      env: 'URNA_WITNESS_LOGS',
      help: "a log it witnesses: the log's verifier key (text or file; its name is the origin), optionally =URL where to read the log",
    },
    {
      name: 'nats',
      value: 'URL[,URL...]',
      env: 'URNA_NATS',
      help:
        'also follow urna.<log>.checkpoint of each --log given with =URL (the proof computed from its tiles, read ' +
        'through LogReader) and publish each cosignature on urna.<log>.cosig',
    },
    ...WITNESS_NODE_FLAGS,
  ],
  async run(p: Parsed) {
    const { host, port } = parseListen(p.required('listen'));
    useNativeCrypto();
    const log = createLogger(p.choice('log-level', LOG_LEVELS)!);
    const logs = await Promise.all(p.list('log').map(parseWitnessedLog));
    let cosigner;
    try {
      cosigner = parseCosignerKey(await readKeyFile(p.required('key')));
    } catch (e) {
      throw new UsageError(`--key ${p.required('key')}: ${e instanceof Error ? e.message : e}`);
    }
    const store = await WitnessStore.open(p.string('data')!);
    const witness = new Witness({ store, logs: logs.map((l) => l.verifier), cosigner, log });
    const limits = {
      maxConnections: p.int('max-connections', 1) ?? 4096,
      maxConnectionsPerClient: p.int('max-connections-per-client')!,
      headersTimeoutMs: p.int('headers-timeout-ms', 1)!,
      requestTimeoutMs: p.int('request-timeout-ms', 1)!,
      keepAliveTimeoutMs: p.int('keep-alive-ms', 1)!,
      rate: { writes: 0, rejected: 0, proofs: 0, reads: 0 },
      oldSizeProofsPerSecond: 0,
      trustProxy: p.bool('trust-proxy'),
    };
    const app = await buildWitnessApp({ witness, limits, log });
    let url: string;
    try {
      url = await app.listen({ host, port });
    } catch (e) {
      await store.close();
      throw e;
    }
    const natsUrl = p.string('nats');
    let follower: WitnessFollower | null = null;
    let nc: NatsConnection | null = null;
    if (natsUrl) {
      nc = await connect({ servers: natsUrl.split(',') });
      const followed = logs.flatMap((l) =>
        l.url ? [{ verifier: l.verifier, verifierKey: l.verifierKey, url: l.url }] : [],
      );
      for (const l of logs)
        if (!l.url) log.warn({ origin: l.verifier.name }, 'not followed on NATS: --log has no =URL');
      follower = new WitnessFollower({ nc, witness, store, logs: followed, log });
      follower.start();
    }
    log.info({ url, logs: witness.origins, cosigner: cosigner.verifierKey }, 'witnessing');
    process.stdout.write(`urna: witness ${cosigner.verifierKey}\nurna: listening on ${url}\n`);
    return untilStopped(
      {
        url,
        verifierKey: cosigner.verifierKey,
        log,
        failed: new Promise<Error>(() => {}),
        close: async () => {
          follower?.stop();
          await nc?.close();
          await app.close();
          await store.close();
        },
      },
      p.int('shutdown-ms')!,
    );
  },
};
