/**
 * Test helper: a reader for the YAML subset docker-compose.yml is written in
 * (the project has no YAML dependency), and the shell-word splitting and
 * variable interpolation Compose applies to a `command` string.
 *
 * YAML subset: block mappings and sequences by indentation (spaces only),
 * full-line comments, plain and quoted scalars (kept as strings), flow
 * sequences (`[a, 'b']`, also over several lines), folded (`>`, `>-`) and
 * literal (`|`, `|-`) block scalars, anchors on mappings (`key: &name`),
 * aliases (`key: *name`) and merge keys (`<<: *name`). Anything else throws,
 * so a construct the reader does not know fails the test instead of being
 * misread.
 */

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string;
  no: number;
}

function unquote(text: string, no: number): string {
  const t = text.trim();
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new Error(`line ${no}: unterminated quote: ${t}`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw new Error(`line ${no}: unterminated quote: ${t}`);
    return JSON.parse(t) as string;
  }
  if (/^[&*!|>%@`{]/.test(t) || / #/.test(t)) throw new Error(`line ${no}: unsupported scalar: ${t}`);
  return t;
}

/** Splits a flow sequence's inside at top-level commas, outside quotes. */
function flowItems(inner: string, no: number): string[] {
  const items: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of inner) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur += ch;
    } else if (ch === ',') {
      items.push(cur);
      cur = '';
    } else if (ch === '[' || ch === '{') {
      throw new Error(`line ${no}: nested flow collections are not supported`);
    } else cur += ch;
  }
  if (quote) throw new Error(`line ${no}: unterminated quote in flow sequence`);
  if (cur.trim()) items.push(cur);
  return items.map((i) => unquote(i, no));
}

export function readYaml(text: string): YamlValue {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (/\t/.test(raw.match(/^\s*/)![0])) throw new Error(`line ${i + 1}: tab indentation`);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    lines.push({ indent: raw.length - raw.trimStart().length, text: raw.trimEnd().trimStart(), no: i + 1 });
  });
  const anchors = new Map<string, YamlValue>();
  let pos = 0;

  /** The lines more indented than `indent`, raw (for block scalars and multi-line flow sequences). */
  function deeper(indent: number): Line[] {
    const out: Line[] = [];
    while (pos < lines.length && lines[pos]!.indent > indent) out.push(lines[pos++]!);
    return out;
  }

  function value(rest: string, indent: number, no: number): YamlValue {
    if (rest === '') {
      if (pos < lines.length && lines[pos]!.indent > indent && lines[pos]!.text.startsWith('['))
        return value(
          deeper(indent)
            .map((l) => l.text)
            .join(' '),
          indent,
          no,
        ); // a flow sequence on its own lines
      if (pos < lines.length && lines[pos]!.indent > indent) return block(lines[pos]!.indent);
      // `key:` then a sequence at the same indentation
      if (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- '))
        return block(indent);
      return null;
    }
    const anchor = /^&([\w-]+)$/.exec(rest);
    if (anchor) {
      const v = value('', indent, no);
      anchors.set(anchor[1]!, v);
      return v;
    }
    const alias = /^\*([\w-]+)$/.exec(rest);
    if (alias) {
      if (!anchors.has(alias[1]!)) throw new Error(`line ${no}: unknown alias *${alias[1]}`);
      return anchors.get(alias[1]!)!;
    }
    if (/^[>|][-+]?$/.test(rest)) {
      const body = deeper(indent).map((l) => l.text);
      const joined = rest.startsWith('>') ? body.join(' ') : body.join('\n');
      return rest.endsWith('-') ? joined : joined + '\n';
    }
    if (rest.startsWith('[')) {
      let flow = rest;
      if (!flow.endsWith(']'))
        flow +=
          ' ' +
          deeper(indent)
            .map((l) => l.text)
            .join(' ');
      if (!flow.endsWith(']')) throw new Error(`line ${no}: unterminated flow sequence`);
      return flowItems(flow.slice(1, -1), no);
    }
    return unquote(rest, no);
  }

  function block(indent: number): YamlValue {
    const first = lines[pos]!;
    if (first.text.startsWith('- ') || first.text === '-') {
      const seq: YamlValue[] = [];
      while (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('-')) {
        const l = lines[pos++]!;
        const item = l.text.slice(1).trim();
        if (/^[\w-]+:(\s|$)/.test(item))
          throw new Error(`line ${l.no}: mappings in sequences are not supported`);
        seq.push(value(item, indent, l.no));
      }
      return seq;
    }
    const map: { [key: string]: YamlValue } = {};
    const merged: { [key: string]: YamlValue }[] = [];
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const l = lines[pos++]!;
      const m = /^('[^']*'|"[^"]*"|[^\s:'"][^:]*?):(?:\s+(.*))?$/.exec(l.text);
      if (!m) throw new Error(`line ${l.no}: expected "key: value": ${l.text}`);
      const key = unquote(m[1]!, l.no);
      const v = value((m[2] ?? '').trim(), indent, l.no);
      if (key === '<<') {
        if (v === null || typeof v !== 'object' || Array.isArray(v))
          throw new Error(`line ${l.no}: << needs a mapping alias`);
        merged.push(v);
      } else {
        if (key in map) throw new Error(`line ${l.no}: duplicate key ${key}`);
        map[key] = v;
      }
    }
    if (pos < lines.length && lines[pos]!.indent > indent)
      throw new Error(`line ${lines[pos]!.no}: unexpected indentation`);
    // Explicit keys win over merged ones; earlier merges over later ones.
    return Object.assign({}, ...[...merged].reverse(), map) as { [key: string]: YamlValue };
  }

  if (lines.length === 0) return null;
  const doc = block(lines[0]!.indent);
  if (pos < lines.length) throw new Error(`line ${lines[pos]!.no}: unexpected content`);
  return doc;
}

/**
 * Compose's interpolation of a value: `$$` is a literal `$`; `${NAME}`,
 * `${NAME:-default}` and `$NAME` take `env` (then the default, then '').
 */
export function interpolate(text: string, env: Record<string, string | undefined> = {}): string {
  return text.replace(
    /\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g,
    (all, braced?: string, dflt?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = braced ?? bare!;
      const v = env[name];
      return v !== undefined && v !== '' ? v : (dflt ?? '');
    },
  );
}

/** Splits a command string into words as a POSIX shell would (quotes; no expansions). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let cur: string | null = null;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      if (cur !== null) words.push(cur);
      cur = null;
      i++;
    } else if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in ${text}`);
      cur = (cur ?? '') + text.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) {
          s += text[j + 1];
          j += 2;
        } else s += text[j++];
      }
      if (j >= text.length) throw new Error(`unterminated " in ${text}`);
      cur = (cur ?? '') + s;
      i = j + 1;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur = (cur ?? '') + text[i + 1];
      i += 2;
    } else {
      cur = (cur ?? '') + ch;
      i++;
    }
  }
  if (cur !== null) words.push(cur);
  return words;
}
