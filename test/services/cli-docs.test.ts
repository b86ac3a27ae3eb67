/**
 * The `urna` command descriptions (services/cli/commands.ts) and what is
 * made from them: the parser (flag > environment variable > default,
 * required flags, one-of groups, positional arguments), `--help`, the
 * README's command table and docs/commands.md (dev/docs.ts), and the real
 * binary's `--help`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandsDoc, COMMANDS_DOC, commandTable, README, readmeWith } from '../../dev/docs.js';
import { envVars, helpText, parseCommand, synopsis, type Command } from '../../services/cli/command.js';
import { COMMANDS, findCommand } from '../../services/cli/commands.js';
import { UsageError } from '../../services/cli/usage-error.js';
import { URNA_BIN } from '../helpers/process.js';

/** A command that exercises every kind of flag. */
const TEST: Command = {
  name: 'test run',
  args: 'WHAT',
  summary: 'a test command',
  flags: [
    { name: 'dir', value: 'DIR', env: 'T_DIR', default: './d', help: 'a string with env and default' },
    { name: 'count', value: 'N', env: 'T_COUNT', default: '3', help: 'an integer' },
    { name: 'key', value: 'FILE', env: 'T_KEY', required: true, help: 'required' },
    { name: 'peer', value: 'VKEY', multiple: true, env: 'T_PEERS', help: 'repeatable' },
    { name: 'names', value: 'A,B', help: 'a comma-separated list' },
    { name: 'fast', env: 'T_FAST', help: 'a switch' },
    { name: 'file', value: 'FILE', oneOf: 'input', help: 'one input' },
    { name: 'text', value: 'TEXT', oneOf: 'input', help: 'the other input' },
  ],
  run: () => Promise.resolve(0),
};

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseCommand(TEST, ['x', ...args], env);
const BASE = ['--key', 'k', '--file', 'f'];

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('no UsageError');
}

describe('parseCommand', () => {
  it('takes a flag from the command line, else its environment variable, else its default', () => {
    expect(parse(BASE).string('dir')).toBe('./d');
    expect(parse(BASE, { T_DIR: '/env' }).string('dir')).toBe('/env');
    expect(parse([...BASE, '--dir', '/flag'], { T_DIR: '/env' }).string('dir')).toBe('/flag');
    expect(parse(BASE, { T_DIR: '' }).string('dir')).toBe('./d'); // empty: unset
    expect(parse(BASE).int('count')).toBe(3);
    expect(parse(BASE, { T_COUNT: '7' }).int('count')).toBe(7);
    expect(parse([...BASE, '--count', '9'], { T_COUNT: '7' }).int('count')).toBe(9);
    expect(parse(BASE).bool('fast')).toBe(false);
    expect(parse(BASE, { T_FAST: '1' }).bool('fast')).toBe(true);
    expect(parse([...BASE, '--fast']).bool('fast')).toBe(true);
  });

  it('reads lists: repeated flags, a comma-separated flag, or a variable split on whitespace and commas', () => {
    expect(parse(BASE).list('peer')).toEqual([]);
    expect(parse(BASE, { T_PEERS: 'a b,c\n d' }).list('peer')).toEqual(['a', 'b', 'c', 'd']);
    expect(parse([...BASE, '--peer', 'x', '--peer', 'y'], { T_PEERS: 'a' }).list('peer')).toEqual(['x', 'y']);
    expect(parse([...BASE, '--names', 'a, b,,c']).list('names')).toEqual(['a', 'b', 'c']);
  });

  it('rejects an unknown flag with a UsageError naming --help', () => {
    const e = usageError(() => parse([...BASE, '--nope']));
    expect(e.message).toMatch(/--nope/);
    expect(e.message).toContain('urna test run --help');
  });

  it('requires required flags, from the command line or the environment', () => {
    expect(usageError(() => parse(['--file', 'f'])).message).toMatch(/--key FILE is required/);
    expect(parse(['--file', 'f'], { T_KEY: 'k' }).required('key')).toBe('k');
  });

  it('requires exactly one flag of a one-of group', () => {
    expect(usageError(() => parse(['--key', 'k'])).message).toMatch(/exactly one of --file FILE and --text/);
    expect(usageError(() => parse([...BASE, '--text', 't'])).message).toMatch(/exactly one of/);
    expect(parse(['--key', 'k', '--text', 't']).string('text')).toBe('t');
  });

  it('requires as many positional arguments as the command names', () => {
    expect(usageError(() => parseCommand(TEST, BASE, {})).message).toMatch(/urna test run --help/);
    expect(() => parseCommand(TEST, ['a', 'b', ...BASE], {})).toThrow(UsageError);
    expect(parse(BASE).positionals).toEqual(['x']);
  });

  it('rejects a bad integer or choice with a UsageError naming the flag', () => {
    expect(usageError(() => parse([...BASE, '--count', '-1']).int('count')).message).toMatch(/--count/);
    expect(usageError(() => parse(BASE, { T_COUNT: '1.5' }).int('count')).message).toMatch(/--count/);
    expect(usageError(() => parse([...BASE, '--dir', 'z']).choice('dir', ['a', 'b'])).message).toMatch(
      /--dir must be a or b, got z/,
    );
  });

  it('shows a synopsis with required flags, groups and optional flags', () => {
    expect(synopsis(TEST)).toBe(
      'urna test run WHAT [--dir DIR] [--count N] --key FILE [--peer VKEY]... [--names A,B] [--fast] ' +
        '(--file FILE | --text TEXT)',
    );
    expect(synopsis(TEST, { flags: 'required' })).toBe(
      'urna test run WHAT --key FILE (--file FILE | --text TEXT)',
    );
    expect(synopsis(TEST, { flags: 'none' })).toBe('urna test run WHAT');
  });
});

describe('the urna commands', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '%s: --help describes every flag and variable',
    (_, c) => {
      const help = helpText(c);
      expect(help.startsWith(`usage: urna ${c.name}`)).toBe(true);
      for (const f of c.flags) expect(help).toMatch(new RegExp(`^ {2}--${f.name}\\b`, 'm'));
      for (const env of envVars(c)) expect(help).toContain(env);
      for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    },
  );

  it('are described consistently: unique names and flags, one-of groups without required or default', () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    for (const c of COMMANDS) {
      expect(c.summary, c.name).not.toMatch(/\n/);
      expect(new Set(c.flags.map((f) => f.name)).size, c.name).toBe(c.flags.length);
      expect(new Set(envVars(c)).size, c.name).toBe(envVars(c).length);
      for (const f of c.flags.filter((x) => x.oneOf)) {
        expect(f.required, `${c.name} --${f.name}`).toBeFalsy();
        expect(f.default, `${c.name} --${f.name}`).toBeUndefined();
      }
    }
  });

  it('are found by their one or two words, and a first word of two-word names finds its group', () => {
    expect(findCommand(['election', 'create', '--key', 'k'])).toMatchObject({
      command: { name: 'election create' },
      rest: ['--key', 'k'],
    });
    expect(findCommand(['phase', 'open'])).toMatchObject({ command: { name: 'phase' }, rest: ['open'] });
    expect(findCommand(['election', 'frobnicate'])).toMatchObject({
      group: 'election',
      commands: [{ name: 'election create' }],
    });
    expect(findCommand(['nonsense'])).toBeNull();
  });
});

describe('npm run docs (dev/docs.ts)', () => {
  it("has written README.md's command table and docs/commands.md as they are now (else: npm run docs)", async () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(await readmeWith(readme));
    expect(readFileSync(COMMANDS_DOC, 'utf8')).toBe(await commandsDoc());
  });

  it('writes the same bytes every time', async () => {
    const readme = readFileSync(README, 'utf8');
    const once = await readmeWith(readme);
    expect(await readmeWith(once)).toBe(once);
    expect(await commandsDoc()).toBe(await commandsDoc());
  });

  it('lists every command with its required flags in the table, and every variable in the reference', async () => {
    const table = commandTable();
    const doc = await commandsDoc();
    for (const c of COMMANDS) {
      expect(table).toContain(synopsis(c, { flags: 'required' }).replaceAll('|', '\\|'));
      expect(doc).toContain(helpText(c).trimEnd());
      for (const env of envVars(c)) expect(doc).toMatch(new RegExp(`^\\| \`${env}\` +\\|`, 'm'));
    }
  });
});

describe('urna --help (the real binary)', () => {
  const urna = (args: string[]) => {
    const r = spawnSync(process.execPath, [URNA_BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it.each([
    [['serve', '--help'], 'usage: urna serve '],
    [['election', 'create', '--help'], 'usage: urna election create --key SKEYFILE --manifest FILE'],
    [['keygen', '-h'], 'usage: urna keygen NAME --out FILE'],
  ])('urna %j prints the usage line and exits 0', (args, line) => {
    const r = urna(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith(line)).toBe(true);
  });

  it('lists the two-word commands of a first word: on stdout with --help (exit 0), else on stderr (exit 2)', () => {
    const help = urna(['election', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: urna election create /);
    const wrong = urna(['election', 'frobnicate']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/unknown command election frobnicate/);
    expect(wrong.stderr).toContain('urna election create');
  });
});
