/**
 * The `urna` command: one entry point, one module per subcommand.
 * Exit codes: 0 success, 1 failure, 2 usage or unreadable input.
 */
import { demoCommand } from './demo.js';
import { castCommand, credentialsCommand, electionCommand, phaseCommand, reportCommand } from './election.js';
import { keygen } from './keygen.js';
import { mirrorCommand } from './mirror.js';
import { UsageError } from './usage-error.js';
import { serveCommand } from './serve.js';
import { verifyCommand } from './verify.js';

export const USAGE = `urna — a verifiable election ledger

usage:
  urna serve [--data DIR] [--listen HOST:PORT] [--key SKEYFILE] [--origin NAME]
             [--authority VKEY]... [--rules election|none]
             [--batch-ms MS] [--max-batch N] [--max-pending N]
             [--nats URL[,URL...]] [--nats-replicas 1|3]
             [--node-id ID] [--advertise URL] [--lease-ms MS]
      run the log: LevelDB in DIR (default ./data), HTTP on HOST:PORT
      (default 127.0.0.1:8080); a key named ORIGIN is generated in DIR on
      first start unless --key is given. With the election rules (default),
      only the --authority keys may define elections; without any, a key is
      generated in DIR/authority.key and trusted (development and demos).
      --rules none: a log of opaque entries. Environment: URNA_DATA,
      URNA_LISTEN, URNA_KEY, URNA_ORIGIN, URNA_AUTHORITIES, URNA_RULES,
      URNA_BATCH_MS, URNA_MAX_BATCH, URNA_MAX_PENDING, URNA_NATS,
      URNA_NATS_REPLICAS. With --nats, each batch is appended to the log's
      JetStream journal before it is committed, and the log catches up from
      the journal on start (an empty DIR is rebuilt from it, given the log
      key with --key: it refuses to generate a new one). Several sequencers
      of one log elect a leader through a NATS KV lease (TTL --lease-ms,
      default 3000; --node-id unique per node, default host + data dir);
      the others follow the journal, serve reads and answer submissions
      with 503 not_leader naming the leader's --advertise URL (default the
      listen address), and take over when the leader stops renewing. A
      leader that loses the lease or meets another one's batch at its
      position steps down at once. Environment: URNA_NODE_ID,
      URNA_ADVERTISE, URNA_LEASE_MS.
  urna mirror --nats URL[,URL...] --log-key VKEY [--data DIR]
              [--listen HOST:PORT] [--nats-replicas 1|3]
              [--authority VKEY]... [--rules election|none]
      a read-only mirror: follows the journal into LevelDB in DIR (default
      ./mirror-data), rebuilds the same tiles and projections, checks every
      batch's root and every signed checkpoint (VKEY: the log's verifier
      key, text or file), and serves the read API on HOST:PORT (default
      127.0.0.1:8081) at the latest checkpoint it can prove. An election
      log's mirror needs the authority keys the log trusts.
  urna keygen NAME --out FILE [--witness]
      write a new signer key to FILE (mode 0600) and print its verifier key;
      --witness makes a tlog-cosignature (type 0x04) key
  urna verify proofs
      read JSON-lines inclusion/consistency probes on stdin, print "ok" or
      "fail <reason>" per line

election clients (--log URL defaults to http://127.0.0.1:8080; key files as
urna keygen writes them; records are signed with the file's Ed25519 key):
  urna election create --log URL --key AUTHORITY_SKEYFILE --manifest FILE
      define an election from a manifest (the election body, with all its
      districts; role keys as base64 or verifier keys): the election record
      holds the root, the reporters' districts and whatever else fits, the
      rest follows in districts records, parents before children
  urna credentials issue --log URL --key REGISTRAR_SKEYFILE --election ID
                         --count N --district D --out DIR
  urna credentials issue --log URL --key REGISTRAR_SKEYFILE --election ID
                         --keys FILE [--district D]
      generate N credential keys into DIR (mode 0600) and publish their
      public keys; or publish the keys in FILE (lines KEY [DISTRICT [WEIGHT]])
  urna phase --log URL --key AUTHORITY_SKEYFILE --election ID open|close|final
  urna cast --log URL --credential SKEYFILE --election ID --contests A,B
            (--ciphertext-file FILE | --ciphertext-base64 B64)
            [--receipt-out FILE] [--log-key VKEY]
      print the ballot tracker, submit the ballot, save the receipt (default
      TRACKER.receipt) and, with --log-key (text or file), verify it
  urna report --log URL --key REPORTER_SKEYFILE --election E --district D
              --contest C --stage preliminary|final --counts OPT=N,OPT=N
              [--blank N] [--invalid N] --protocol FILE
      report a district's count with the SHA-256 of the scanned protocol
  urna demo --log URL --authority-key SKEYFILE [--districts N] [--voters N]
            [--seed S] [--election ID] [--concurrency C]
      a whole synthetic election night (default: 6,004 polling districts,
      20,000 voters, seed 2026, 64 submissions in flight); the log must
      trust the authority key (urna serve --authority VKEY)
  urna help
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  mirror: mirrorCommand,
  keygen,
  verify: verifyCommand,
  election: electionCommand,
  credentials: credentialsCommand,
  phase: phaseCommand,
  cast: castCommand,
  report: reportCommand,
  demo: demoCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`urna: unknown command ${name}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`urna ${name}: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`urna ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    if ((e as { code?: string }).code === 'storage_corrupt')
      process.stderr.write(
        `urna ${name}: the data dir is corrupt; a node of a replicated log (--nats) rebuilds it ` +
          'from the journal when started on an empty data dir (move the old one aside)\n',
      );
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
