/**
 * JSON Canonicalization Scheme (JCS), RFC 8785
 * (https://www.rfc-editor.org/rfc/rfc8785): the one serialization of a JSON
 * value that records are signed and hashed over.
 *
 * The domain is I-JSON (RFC 7493, as RFC 8785 §3.1 requires): `null`,
 * booleans, finite numbers (IEEE 754 doubles), strings without unpaired
 * surrogates, arrays, and plain objects with string keys. Serialization
 * follows RFC 8785 §3.2: no whitespace, ECMAScript number serialization
 * (§3.2.2.3), JSON.stringify string escaping (§3.2.2.2), object members
 * sorted by their names' UTF-16 code units (§3.2.3), UTF-8 output (§3.2.4).
 */
import { fromUtf8, utf8 } from './bytes.js';
import { MalformedError } from './errors.js';

/** A JSON value in the I-JSON domain of RFC 8785 §3.1. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Deepest nesting of arrays and objects accepted by {@link canonicalize} and
 * {@link parseCanonical}: a bound on recursion, far above what any record needs.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Raised by {@link parseCanonical} for input that is valid I-JSON but not in
 * its canonical form (whitespace, member order, duplicate names, number or
 * string spelling). A MalformedError (code `malformed`); the subclass lets a
 * caller tell "not canonical" from "not JSON at all".
 */
export class NonCanonicalError extends MalformedError {}

// With the u flag, this matches only unpaired surrogates (I-JSON §2.1: no
// unpaired surrogates in strings or member names).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The RFC 8785 canonical form of `value`, as a string.
 *
 * Throws TypeError for anything outside I-JSON (RFC 8785 §3.1): `undefined`,
 * functions, symbols, bigints, non-finite numbers (§3.2.2.3: NaN and Infinity
 * are errors), strings or member names with an unpaired surrogate, objects
 * that are not plain (`Date`, `Map`, typed arrays, class instances; `toJSON`
 * is never called), objects with symbol keys, sparse arrays, and cycles.
 * Throws RangeError for nesting deeper than {@link MAX_JSON_DEPTH}.
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0, [], true);
}

/** UTF-8 bytes of {@link canonicalize}(value) (RFC 8785 §3.2.4). Throws as canonicalize does. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

/**
 * Parses `bytes` as JSON and returns the value, only if `bytes` are exactly
 * its RFC 8785 canonical UTF-8 serialization. This rejects, among others,
 * a byte-order mark, whitespace, unsorted or duplicate member names,
 * non-canonical numbers (`1.0`, `1e2`, `-0`) and string escapes (`\/`,
 * `\u0041`), so a value has exactly one accepted encoding.
 *
 * Throws TypeError if `bytes` is not a Uint8Array; MalformedError for invalid
 * UTF-8, invalid JSON, values outside I-JSON (numbers beyond binary64,
 * unpaired surrogates), or nesting deeper than {@link MAX_JSON_DEPTH}; and
 * {@link NonCanonicalError} (a MalformedError) for valid I-JSON in any form
 * but the canonical one.
 */
export function parseCanonical(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parseCanonical: expected a Uint8Array');
  // TextDecoder strips a leading BOM; strict decoding is otherwise injective,
  // so comparing strings below compares the bytes.
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    throw new NonCanonicalError('JSON: byte-order mark (RFC 8785 §3.2.4)');
  const text = fromUtf8(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new MalformedError('JSON: syntax error', { cause });
  }
  let canonical: string;
  try {
    // Strictly decoded UTF-8 has no unpaired surrogates, so strings can only
    // get one from a \u escape: without any, skip the per-string check.
    canonical = serialize(value, 0, [], text.includes('\\u'));
  } catch (cause) {
    throw new MalformedError(`JSON: outside I-JSON (RFC 8785 §3.1): ${(cause as Error).message}`, { cause });
  }
  if (canonical !== text)
    throw new NonCanonicalError(`JSON: not in RFC 8785 canonical form ${describeDiff(text, canonical)}`);
  return value;
}

function serialize(value: unknown, depth: number, stack: object[], surrogates: boolean): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, surrogates);
    case 'number':
      // §3.2.2.3: ECMAScript Number.prototype.toString; -0 becomes "0".
      if (!Number.isFinite(value)) throw new TypeError(`JCS: ${value} is not an I-JSON number`);
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      break;
    default:
      throw new TypeError(`JCS: a ${typeof value} is not a JSON value`);
  }
  if (depth >= MAX_JSON_DEPTH) throw new RangeError(`JCS: nesting deeper than ${MAX_JSON_DEPTH}`);
  if (stack.includes(value)) throw new TypeError('JCS: cyclic structure');
  stack.push(value);
  let out: string;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new TypeError('JCS: sparse array');
      parts.push(serialize(value[i], depth + 1, stack, surrogates));
    }
    out = `[${parts.join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new TypeError('JCS: not a plain object');
    if (Object.getOwnPropertySymbols(value).length > 0) throw new TypeError('JCS: symbol keys');
    const record = value as { [key: string]: unknown };
    // §3.2.3: sort by UTF-16 code units, which is what the default sort compares.
    const keys = Object.keys(record).sort();
    const parts: string[] = [];
    for (const key of keys)
      parts.push(
        `${serializeString(key, surrogates)}:${serialize(record[key], depth + 1, stack, surrogates)}`,
      );
    out = `{${parts.join(',')}}`;
  }
  stack.pop();
  return out;
}

function serializeString(s: string, surrogates: boolean): string {
  if (surrogates && LONE_SURROGATE.test(s)) throw new TypeError('JCS: unpaired surrogate in a string');
  // §3.2.2.2: the escaping of ECMAScript JSON.stringify.
  return JSON.stringify(s);
}

/** A short hint of where the text first differs from its canonical form. */
function describeDiff(text: string, canonical: string): string {
  let i = 0;
  while (i < text.length && i < canonical.length && text[i] === canonical[i]) i++;
  return `(first difference at character ${i})`;
}
