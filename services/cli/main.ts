/**
 * The `urna` command: one entry point, one module per subcommand.
 * Exit codes: 0 success, 1 failure, 2 usage or unreadable input.
 */
import { keygen } from './keygen.js';
import { UsageError } from './usage-error.js';
import { serveCommand } from './serve.js';
import { verifyCommand } from './verify.js';

export const USAGE = `urna — a verifiable election ledger

usage:
  urna serve [--data DIR] [--listen HOST:PORT] [--key SKEYFILE] [--origin NAME]
             [--batch-ms MS] [--max-batch N] [--max-pending N]
      run the log: LevelDB in DIR (default ./data), HTTP on HOST:PORT
      (default 127.0.0.1:8080); a key named ORIGIN is generated in DIR on
      first start unless --key is given. Environment: URNA_DATA, URNA_LISTEN,
      URNA_KEY, URNA_ORIGIN, URNA_BATCH_MS, URNA_MAX_BATCH, URNA_MAX_PENDING.
  urna keygen NAME --out FILE [--witness]
      write a new signer key to FILE (mode 0600) and print its verifier key;
      --witness makes a tlog-cosignature (type 0x04) key
  urna verify proofs
      read JSON-lines inclusion/consistency probes on stdin, print "ok" or
      "fail <reason>" per line
  urna help
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  keygen,
  verify: verifyCommand,
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
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
