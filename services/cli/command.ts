/**
 * One description of each `urna` command — its arguments, flags, their
 * environment variables and defaults, and what it does — from which
 * everything else is made: the parser (node:util parseArgs), `urna CMD
 * --help`, `urna help`, the README's command table and docs/commands.md
 * (dev/docs.ts writes them; a test checks they are current).
 *
 * A command is named by one word or two (`serve`, `election create`); its
 * positional arguments, if any, follow the name. A flag's value is, in
 * order: the flag, its environment variable, its default. Parsed values are
 * read through `Parsed`, which names the flag in every UsageError.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

export interface Flag {
  /** The long name, without dashes. */
  name: string;
  /** The value's placeholder (DIR, N, URL); absent for a switch. */
  value?: string;
  /** May be given more than once (the environment variable then holds a whitespace- or comma-separated list). */
  multiple?: boolean;
  /** The environment variable read when the flag is absent. */
  env?: string;
  /** The default, as text (read like a given value). */
  default?: string;
  /** Must be given (by the flag or its environment variable). */
  required?: boolean;
  /**
   * A group name: exactly one flag of the group must be given (the synopsis
   * shows `(--a A | --b B)` where the group's first flag is). Its flags have
   * neither `required` nor `default`.
   */
  oneOf?: string;
  /** What it does. */
  help: string;
}

export interface Command {
  /** The words after `urna`: 'serve', 'election create'. */
  name: string;
  /**
   * The positional arguments as the synopsis shows them ('NAME',
   * 'open|close|final', '[FILE]'): one word each, required unless in
   * brackets (the parser checks how many are given). Absent: the command
   * takes none.
   */
  args?: string;
  /** One line: what it does (the command table). */
  summary: string;
  /** More, for `--help`: paragraphs separated by blank lines. */
  description?: string;
  flags: Flag[];
  run(parsed: Parsed): Promise<number>;
}

/** A command line read against a command's flags. */
export class Parsed {
  constructor(
    private readonly command: Command,
    private readonly values: Record<string, string | boolean | string[] | undefined>,
    readonly positionals: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private flag(name: string): Flag {
    const f = this.command.flags.find((x) => x.name === name);
    if (!f) throw new Error(`urna ${this.command.name}: no flag --${name}`); // a bug, not a usage error
    return f;
  }

  /** The flag's text: given, else its environment variable, else its default; undefined if none. */
  string(name: string): string | undefined {
    const f = this.flag(name);
    const given = this.values[name];
    if (typeof given === 'string') return given;
    const fromEnv = f.env === undefined ? undefined : this.env[f.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return f.default;
  }

  /** Like `string`, but a UsageError when absent. */
  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === '')
      throw new UsageError(`--${name} ${this.flag(name).value ?? ''} is required`.trim());
    return v;
  }

  /** Whether a switch is on (given, or its environment variable is 1 or true). */
  bool(name: string): boolean {
    const f = this.flag(name);
    if (this.values[name] === true) return true;
    const fromEnv = f.env === undefined ? undefined : this.env[f.env];
    return fromEnv === '1' || fromEnv === 'true';
  }

  /**
   * A list flag's values: a repeatable flag's given values, or a single
   * flag's given text split on commas; else its environment variable (or
   * its default) split on whitespace and commas. Empty entries are dropped.
   */
  list(name: string): string[] {
    const f = this.flag(name);
    const given = this.values[name];
    if (Array.isArray(given) && given.length) return given;
    if (typeof given === 'string')
      return given
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    const fromEnv = f.env === undefined ? '' : (this.env[f.env] ?? '');
    const text = fromEnv !== '' ? fromEnv : (f.default ?? '');
    return text.split(/[\s,]+/).filter(Boolean);
  }

  /** An integer flag of at least `min` (undefined if absent and without default). */
  int(name: string, min = 0): number | undefined {
    const text = this.string(name);
    return text === undefined ? undefined : parseInteger(text, `--${name}`, min);
  }

  /** Like `int`, but a UsageError when absent. */
  requiredInt(name: string, min = 0): number {
    this.required(name);
    return this.int(name, min)!;
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (!(choices as readonly string[]).includes(text))
      throw new UsageError(`--${name} must be ${choices.join(' or ')}, got ${text}`);
    return text as T;
  }
}

/** `text` as an integer of at least `min`; a UsageError naming `what` otherwise. */
export function parseInteger(text: string, what: string, min = 0): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${what} must be an integer of at least ${min}, got ${text}`);
  return n;
}

/** The numbers of positional arguments `command` takes: its `args` words, less those in brackets (optional). */
function arity(command: Command): { min: number; max: number } {
  const words = (command.args ?? '').split(/\s+/).filter(Boolean);
  return { min: words.filter((w) => !w.startsWith('[')).length, max: words.length };
}

/** The flags of each `oneOf` group, by group name, in the order they are described. */
function groups(command: Command): Map<string, Flag[]> {
  const out = new Map<string, Flag[]>();
  for (const f of command.flags) if (f.oneOf) out.set(f.oneOf, [...(out.get(f.oneOf) ?? []), f]);
  return out;
}

/** A flag as the synopsis shows it: `--name VALUE`. */
function flagText(f: Flag): string {
  return `--${f.name}${f.value ? ` ${f.value}` : ''}`;
}

/**
 * Reads `args` against `command`'s flags. Throws UsageError (naming `urna
 * NAME --help`) on an unknown flag or a wrong number of positional
 * arguments, and UsageError on a missing required flag or a `oneOf` group
 * without exactly one flag given.
 */
export function parseCommand(command: Command, args: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const f of command.flags)
    options[f.name] = {
      type: f.value === undefined ? 'boolean' : 'string',
      ...(f.multiple ? { multiple: true } : {}),
    };
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: command.args !== undefined, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (urna ${command.name} --help)`);
  }
  const { min, max } = arity(command);
  const given = parsed.positionals.length;
  if (given < min || given > max) {
    const want = min === max ? String(min) : `${min} to ${max}`;
    throw new UsageError(
      `expected ${want === '1' ? 'one argument' : `${want} arguments`} (${command.args}), ` +
        `got ${given} (urna ${command.name} --help)`,
    );
  }
  const result = new Parsed(
    command,
    parsed.values as Record<string, string | boolean | string[] | undefined>,
    parsed.positionals,
    env,
  );
  for (const f of command.flags) {
    if (!f.required) continue;
    if (!f.multiple) result.required(f.name);
    else if (result.list(f.name).length === 0) throw new UsageError(`${flagText(f)} is required`);
  }
  for (const group of groups(command).values()) {
    const given = group.filter((f) => result.string(f.name) !== undefined);
    if (given.length !== 1) throw new UsageError(`give exactly one of ${group.map(flagText).join(' and ')}`);
  }
  return result;
}

/**
 * The synopsis: `urna NAME ARGS --flag VALUE (--a A | --b B) [--opt VALUE]...`;
 * with `flags: 'required'` only the required flags and groups, with
 * `flags: 'none'` none.
 */
export function synopsis(command: Command, opts: { flags?: 'all' | 'required' | 'none' } = {}): string {
  return synopsisParts(command, opts.flags ?? 'all').join(' ');
}

/** The synopsis's parts: the name, the arguments, then one part per flag or group. */
function synopsisParts(command: Command, which: 'all' | 'required' | 'none'): string[] {
  const parts = [`urna ${command.name}`];
  if (command.args) parts.push(command.args);
  if (which === 'none') return parts;
  const oneOf = groups(command);
  for (const f of command.flags) {
    if (f.oneOf) {
      const group = oneOf.get(f.oneOf)!;
      if (group[0] === f) parts.push(`(${group.map(flagText).join(' | ')})`);
    } else if (f.required) parts.push(`${flagText(f)}${f.multiple ? '...' : ''}`);
    else if (which === 'all') parts.push(`[${flagText(f)}]${f.multiple ? '...' : ''}`);
  }
  return parts;
}

/**
 * Wraps `text` (its words, or the given units, kept whole) to `width`
 * columns, each line after the first indented by `indent`.
 */
function wrap(text: string | string[], width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of typeof text === 'string' ? text.split(/\s+/).filter(Boolean) : text) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** What `urna NAME --help` prints. */
export function helpText(command: Command): string {
  const out = [
    wrap(['usage:', ...synopsisParts(command, 'all')], 78, '         '),
    '',
    wrap(command.summary, 78, ''),
  ];
  for (const p of (command.description ?? '').split(/\n\s*\n/).filter((x) => x.trim()))
    out.push('', wrap(p.trim(), 78, ''));
  if (command.flags.length) {
    out.push('', 'flags:');
    for (const f of command.flags) {
      const head = `  ${flagText(f)}`;
      const group = f.oneOf ? groups(command).get(f.oneOf)! : [];
      const notes = [
        f.required ? 'required' : null,
        group.length ? `exactly one of ${group.map((x) => `--${x.name}`).join(' and ')}` : null,
        f.multiple ? 'repeatable' : null,
        f.env ? `env ${f.env}` : null,
        f.default !== undefined ? `default ${f.default === '' ? '""' : f.default}` : null,
      ].filter(Boolean);
      out.push(
        head,
        `      ${wrap(`${f.help}${notes.length ? ` (${notes.join('; ')})` : ''}`, 72, '      ')}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

/** Every environment variable a command reads. */
export function envVars(command: Command): string[] {
  return command.flags.flatMap((f) => (f.env ? [f.env] : []));
}
