/**
 * The `urna` command: one entry point, one Command (services/cli/command.ts)
 * per subcommand, from which its parser and its help are made.
 * Exit codes: 0 success, 1 failure, 2 usage or unreadable input.
 */
import { demoCommand } from './demo.js';
import { castCommand, credentialsCommand, electionCommand, phaseCommand, reportCommand } from './election.js';
import { keygen } from './keygen.js';
import { helpText, parseCommand, synopsis, type Command } from './command.js';
import { UsageError } from './usage-error.js';
import { mirrorCommand, serveCommand } from './serve.js';
import { verifyCommand } from './verify.js';

/** A command not yet described by a Command: its own parser and usage line (being converted). */
interface LegacyCommand {
  name: string;
  usage: string;
  legacy: (args: string[]) => Promise<number>;
}

/** Every command, in the order `urna help` lists them. */
export const COMMANDS: Array<Command | LegacyCommand> = [
  serveCommand,
  mirrorCommand,
  { name: 'keygen', usage: 'urna keygen NAME --out FILE [--witness]', legacy: keygen },
  { name: 'verify', usage: 'urna verify proofs', legacy: verifyCommand },
  {
    name: 'election',
    usage: 'urna election create --log URL --key SKEYFILE --manifest FILE',
    legacy: electionCommand,
  },
  { name: 'credentials', usage: 'urna credentials issue ...', legacy: credentialsCommand },
  { name: 'phase', usage: 'urna phase ...', legacy: phaseCommand },
  { name: 'cast', usage: 'urna cast ...', legacy: castCommand },
  { name: 'report', usage: 'urna report ...', legacy: reportCommand },
  { name: 'demo', usage: 'urna demo ...', legacy: demoCommand },
];

/** What `urna help` prints: every command's synopsis and summary. */
export function usage(): string {
  const lines = ['urna — a verifiable election ledger', '', 'usage:'];
  for (const c of COMMANDS) {
    if ('legacy' in c) lines.push(`  ${c.usage}`);
    else lines.push(`  ${synopsis(c, { flags: false })} [flags]`, `      ${c.summary}`);
  }
  lines.push('', "`urna COMMAND --help` describes a command's flags.", '');
  return lines.join('\n');
}

/** The command named by the first words of `argv` (the longest match), and the rest. */
function lookup(argv: string[]): { command: Command | LegacyCommand; rest: string[] } | null {
  for (let n = 2; n >= 1; n--) {
    const name = argv.slice(0, n).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(n) };
  }
  return null;
}

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const found = lookup(argv);
  if (!found) {
    process.stderr.write(`urna: unknown command ${first}\n\n${usage()}`);
    return 2;
  }
  const { command, rest } = found;
  try {
    if ('legacy' in command) return await command.legacy(rest);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(helpText(command));
      return 0;
    }
    return await command.run(parseCommand(command, rest));
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`urna ${command.name}: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`urna ${command.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
