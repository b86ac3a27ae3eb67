/**
 * Every `urna` command (services/cli/command.ts describes one), and how a
 * command line names one. Importable without running the CLI: main.ts runs
 * it, dev/docs.ts and the tests read it.
 */
import { authoritiesCommand } from './authorities.js';
import { synopsis, type Command } from './command.js';
import { countCommand } from './count.js';
import { demoCommand } from './demo.js';
import {
  castCommand,
  credentialsIssueCommand,
  electionCreateCommand,
  phaseCommand,
  reportCommand,
} from './election.js';
import { guardianDecryptCommand } from './guardian-decrypt.js';
import { guardianCeremonyCommand, guardianKeygenCommand } from './guardian.js';
import { keygenCommand } from './keygen.js';
import { restoreCommand } from './restore.js';
import { mirrorCommand, serveCommand } from './serve.js';
import {
  verifyAlarmCommand,
  verifyAuditCommand,
  verifyCheckpointCommand,
  verifyConsistencyCommand,
  verifyInclusionCommand,
  verifyProofsCommand,
  verifyReceiptCommand,
  verifySpoiledCommand,
} from './verify.js';
import { witnessCommand } from './witness.js';
import { monitorCommand } from './monitor.js';

/** Every command, in the order `urna help` lists them. */
export const COMMANDS: Command[] = [
  serveCommand,
  mirrorCommand,
  restoreCommand,
  witnessCommand,
  monitorCommand,
  keygenCommand,
  authoritiesCommand,
  verifyCheckpointCommand,
  verifyReceiptCommand,
  verifyInclusionCommand,
  verifyConsistencyCommand,
  verifyAuditCommand,
  verifyProofsCommand,
  verifyAlarmCommand,
  verifySpoiledCommand,
  electionCreateCommand,
  credentialsIssueCommand,
  phaseCommand,
  guardianKeygenCommand,
  guardianCeremonyCommand,
  guardianDecryptCommand,
  castCommand,
  reportCommand,
  countCommand,
  demoCommand,
];

/** `urna NAME ARGS [flags]` and the summary below it: a command's entry in a listing. */
function entry(c: Command): string[] {
  return [`  ${synopsis(c, { flags: 'none' })}${c.flags.length ? ' [flags]' : ''}`, `      ${c.summary}`];
}

/** What `urna help` prints: every command's synopsis and summary. */
export function usage(): string {
  const lines = ['urna — a verifiable election ledger', '', 'usage:'];
  for (const c of COMMANDS) lines.push(...entry(c));
  lines.push('', "`urna COMMAND --help` describes a command's flags.", '');
  return lines.join('\n');
}

/** A listing of the commands whose name starts with the word `group` (`urna election` without its verb). */
export function groupUsage(group: string, commands: Command[]): string {
  const lines = [`urna ${group} is followed by a command:`];
  for (const c of commands) lines.push(...entry(c));
  lines.push('', "`urna COMMAND --help` describes a command's flags.", '');
  return lines.join('\n');
}

/**
 * What the words of `argv` name: a command (the longest name that matches)
 * and the arguments after its name; else, if the first word begins
 * two-word names (`election` of `election create`), that group; else null.
 */
export function findCommand(
  argv: string[],
): { command: Command; rest: string[] } | { group: string; commands: Command[] } | null {
  for (let n = 2; n >= 1; n--) {
    if (argv.length < n) continue;
    const name = argv.slice(0, n).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(n) };
  }
  const group = argv[0] ?? '';
  const commands = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return commands.length ? { group, commands } : null;
}
