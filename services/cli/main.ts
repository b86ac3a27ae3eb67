/**
 * The `urna` command: one entry point, one Command (services/cli/command.ts)
 * per subcommand, listed in services/cli/commands.ts, from which its parser
 * and its help are made.
 * Exit codes: 0 success, 1 failure, 2 usage or unreadable input.
 */
import { helpText, parseCommand } from './command.js';
import { findCommand, groupUsage, usage } from './commands.js';
import { UsageError } from './usage-error.js';

const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`urna: unknown command ${first}\n\n${usage()}`);
    return 2;
  }
  if ('group' in found) {
    // `urna election --help`: the help of each `urna election ...` command; a missing or wrong verb: a listing.
    if (wantsHelp(argv)) {
      process.stdout.write(found.commands.map(helpText).join('\n'));
      return 0;
    }
    const why = argv[1] === undefined ? '' : `urna: unknown command ${first} ${argv[1]}\n\n`;
    process.stderr.write(why + groupUsage(found.group, found.commands));
    return 2;
  }
  const { command, rest } = found;
  try {
    if (wantsHelp(rest)) {
      process.stdout.write(helpText(command));
      return 0;
    }
    return await command.run(parseCommand(command, rest));
  } catch (e) {
    process.stderr.write(`urna ${command.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
