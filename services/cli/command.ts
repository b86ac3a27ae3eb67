/**
 * One description of each `urna` command — its arguments, flags, their
 * environment variables and defaults, and what it does — from which
 * everything else is made: the parser (node:util parseArgs), `urna CMD
 * --help`, `urna help`, the README's command table and docs/commands.md
 * (dev/docs.ts writes them; a test checks they are current).
 *
 * A flag's value is, in order: the flag, its environment variable, its
 * default. Parsed values are read through `Parsed`, which names the flag in
 * every UsageError.
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
  /** What it does. */
  help: string;
}

export interface Command {
  /** The words after `urna`: 'serve', 'election create'. */
  name: string;
  /** The positional arguments as the synopsis shows them ('NAME', 'open|close|final'). */
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

  /** A repeatable flag's values: given, else its environment variable split on whitespace and commas. */
  list(name: string): string[] {
    const f = this.flag(name);
    const given = this.values[name];
    if (Array.isArray(given) && given.length) return given;
    const fromEnv = f.env === undefined ? '' : (this.env[f.env] ?? '');
    const text = fromEnv !== '' ? fromEnv : (f.default ?? '');
    return text.split(/[\s,]+/).filter(Boolean);
  }

  /** An integer flag of at least `min` (undefined if absent and without default). */
  int(name: string, min = 0): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min)
      throw new UsageError(`--${name} must be an integer of at least ${min}, got ${text}`);
    return n;
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

/** Reads `args` against `command`'s flags. Throws UsageError on an unknown flag or a missing required one. */
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
  const result = new Parsed(
    command,
    parsed.values as Record<string, string | boolean | string[] | undefined>,
    parsed.positionals,
    env,
  );
  for (const f of command.flags) if (f.required) result.required(f.name);
  return result;
}

/** The synopsis: `urna NAME ARGS --flag VALUE [--opt VALUE]...`. */
export function synopsis(command: Command, opts: { flags?: boolean } = {}): string {
  const parts = [`urna ${command.name}`];
  if (command.args) parts.push(command.args);
  if (opts.flags !== false)
    for (const f of command.flags) {
      const text = `--${f.name}${f.value ? ` ${f.value}` : ''}`;
      parts.push(f.required ? text : `[${text}]${f.multiple ? '...' : ''}`);
    }
  return parts.join(' ');
}

/** Wraps `text` to `width` columns, each line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
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
  const out = [`usage: ${wrap(synopsis(command), 78, '         ')}`, '', wrap(command.summary, 78, '')];
  for (const p of (command.description ?? '').split(/\n\s*\n/).filter((x) => x.trim()))
    out.push('', wrap(p.trim(), 78, ''));
  if (command.flags.length) {
    out.push('', 'flags:');
    for (const f of command.flags) {
      const head = `  --${f.name}${f.value ? ` ${f.value}` : ''}`;
      const notes = [
        f.required ? 'required' : null,
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
