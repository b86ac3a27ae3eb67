/**
 * Byte helpers for the edges of the system: hex, base64 and UTF-8. Inside the
 * core, hashes stay `Uint8Array`; text encodings appear only when parsing or
 * formatting. Browser-safe: no Buffer.
 */
import { MalformedError } from './errors.js';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8; throws MalformedError on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new MalformedError('invalid UTF-8', { cause });
  }
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Byte-wise equality (not constant-time; hashes and public data only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX_CODES = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX_CODES[i] = '0123456789abcdef'.charCodeAt(i);

/**
 * One flat string from character codes below 128. A string built with `+=`
 * is, in V8, a chain of cons cells (about 32 bytes each) that a Map key or
 * a stored value keeps alive: a 44-character base64 key built that way
 * weighs about 900 bytes, which is most of a replayed state's memory.
 */
function asciiString(codes: Uint8Array): string {
  const CHUNK = 8192; // String.fromCharCode.apply takes its arguments on the stack
  if (codes.length <= CHUNK) return String.fromCharCode.apply(null, codes as unknown as number[]);
  const parts: string[] = [];
  for (let i = 0; i < codes.length; i += CHUNK)
    parts.push(String.fromCharCode.apply(null, codes.subarray(i, i + CHUNK) as unknown as number[]));
  return parts.join('');
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  const codes = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    codes[2 * i] = HEX_CODES[bytes[i]! >> 4]!;
    codes[2 * i + 1] = HEX_CODES[bytes[i]! & 15]!;
  }
  return asciiString(codes);
}

/** Parses lower- or upper-case hex of even length; throws MalformedError otherwise. */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new MalformedError('invalid hex');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const PAD = '='.charCodeAt(0);

/** Standard base64 with padding (RFC 4648 §4), as used by C2SP formats. */
export function toBase64(bytes: Uint8Array): string {
  const codes = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let i = 0;
  let o = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    codes[o++] = B64_CODES[n >> 18]!;
    codes[o++] = B64_CODES[(n >> 12) & 63]!;
    codes[o++] = B64_CODES[(n >> 6) & 63]!;
    codes[o++] = B64_CODES[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    codes[o++] = B64_CODES[n >> 18]!;
    codes[o++] = B64_CODES[(n >> 12) & 63]!;
    codes[o++] = rest === 2 ? B64_CODES[(n >> 6) & 63]! : PAD;
    codes[o++] = PAD;
  }
  return asciiString(codes);
}

/**
 * Parses standard padded base64, strictly: the length must be a multiple of 4,
 * no whitespace, and unused trailing bits must be zero, so that every byte
 * string has exactly one accepted encoding. Throws MalformedError otherwise.
 */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new MalformedError('invalid base64: length');
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      let v: number;
      if (c === 61 /* = */ && last && j >= 4 - pad) v = 0;
      else v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) throw new MalformedError('invalid base64: character');
      n = (n << 6) | v;
    }
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
    if (last && pad === 2 && (n & 0xffff) !== 0) throw new MalformedError('invalid base64: trailing bits');
    if (last && pad === 1 && (n & 0xff) !== 0) throw new MalformedError('invalid base64: trailing bits');
  }
  return out;
}

/** Checks a tree size or index at a public boundary. */
export function checkIndex(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name}: expected a number`);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name}: expected a non-negative safe integer`);
  return value;
}

/** The 4-byte big-endian encoding of `value` (a non-negative integer below 2^32). RangeError otherwise. */
export function uint32BE(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError('uint32BE: expected an integer in [0, 2^32)');
  return new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

/**
 * 8-byte big-endian encoding of a non-negative safe integer (a TLS `uint64`,
 * RFC 8446 §3.3). Throws RangeError for anything else.
 */
export function uint64BE(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError('uint64BE: expected a non-negative safe integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/**
 * Reads an 8-byte big-endian unsigned integer at `offset` (RFC 8446 §3.3).
 * Throws MalformedError if fewer than 8 bytes remain or if the value exceeds
 * Number.MAX_SAFE_INTEGER.
 */
export function readUint64BE(bytes: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + 8 > bytes.length) throw new MalformedError('uint64: truncated');
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError('uint64: beyond the safe integer range');
  return Number(v);
}
