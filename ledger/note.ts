/**
 * Signed notes, C2SP signed-note v1.0.0 (https://c2sp.org/signed-note@v1.0.0),
 * with the key encodings and `Open` semantics of golang.org/x/mod/sumdb/note.
 *
 * A note is a text ending in a newline, a blank line, and one or more
 * signature lines `— <key name> base64(key ID || signature)`. Two signature
 * types are implemented: 0x01 Ed25519 over the note text (signed-note
 * §Ed25519 signatures) and 0x04 timestamped Ed25519 cosignatures
 * (c2sp.org/tlog-cosignature; signing keys for those live in cosignature.ts).
 *
 * Strings here are JavaScript strings; "valid UTF-8" means no unpaired
 * surrogate, so that the UTF-8 encoding is exact. Base64 is parsed strictly
 * (canonical encodings only), which is stricter than Go's StdEncoding.
 */
import { concat, equalBytes, fromBase64, fromHex, readUint64BE, toBase64, toHex, utf8 } from './bytes.js';
import { ed25519, randomSeed } from './ed25519.js';
import { MalformedError, SignatureError, UnverifiedNoteError } from './errors.js';
import { hash } from './hash.js';

/** Signature type 0x01: Ed25519 over the note text (signed-note §Signature types). */
export const ED25519_TYPE = 0x01;

/** Signature type 0x04: timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature). */
export const COSIGNATURE_TYPE = 0x04;

/**
 * Most signature lines accepted in one note. signed-note §Format: verifiers
 * SHOULD limit the count and MUST accept at least 16; 100 is Go's limit.
 */
export const MAX_SIGNATURES = 100;

/** Largest note accepted or produced, in UTF-8 bytes (the "overall size" limit of signed-note §Format). */
export const MAX_NOTE_SIZE = 1 << 20;

/** Bytes in a key ID. */
export const KEY_ID_SIZE = 4;

/** Signs note texts with one key. */
export interface NoteSigner {
  /** Key name: see {@link isValidKeyName}. */
  name: string;
  /** The 4-byte key ID. */
  keyId: Uint8Array;
  /** Signs `message` (the note text's UTF-8 bytes); returns the signature without the key ID. */
  sign(message: Uint8Array): Uint8Array;
}

/** Verifies signatures by one key. */
export interface NoteVerifier {
  /** Key name. */
  name: string;
  /** The 4-byte key ID. */
  keyId: Uint8Array;
  /** Whether `signature` (the bytes after the key ID) is valid over `message`. Never throws. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** One signature line of a note, decoded. */
export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  /** The signature bytes that follow the 4-byte key ID. */
  signature: Uint8Array;
}

/** A note whose signatures were checked by {@link openNote}. */
export interface OpenedNote {
  /** The note text, final newline included, separating blank line excluded. */
  text: string;
  /** Signatures by known keys, all valid, at most one per key, in note order. */
  verified: NoteSignature[];
  /** Signatures by unknown keys (not checked), identical lines once, in note order. */
  unverified: NoteSignature[];
}

const SIG_PREFIX = '\u2014 '; // em dash, space: signed-note §Format
const WHITE_SPACE = /\p{White_Space}/u; // Go's unicode.IsSpace
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // with /u, matches only unpaired surrogates
// eslint-disable-next-line no-control-regex
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000B-\u001F]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F]/;

/**
 * Whether `name` is a valid key name: non-empty, no Unicode spaces and no '+'
 * (signed-note §Format). Also rejected, because such a name could never appear
 * in a valid note: unpaired surrogates and ASCII control characters.
 */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name !== '' &&
    !name.includes('+') &&
    !WHITE_SPACE.test(name) &&
    !CONTROL.test(name) &&
    !LONE_SURROGATE.test(name)
  );
}

/**
 * Key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]
 * (signed-note §Signatures; tlog-cosignature §Format for type 0x04).
 * Throws RangeError for an invalid name or a type outside 0..255.
 */
export function keyIdFor(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  checkName(name);
  checkType(type);
  return hash(concat(utf8(name), Uint8Array.of(0x0a, type), publicKey)).slice(0, KEY_ID_SIZE);
}

/**
 * Verifier key text `name+hex(keyid)+base64(type||publicKey)`, as Go's
 * note.NewEd25519VerifierKey writes it. Throws RangeError for an invalid
 * name or type, or a public key that is not 32 bytes.
 */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  checkPublicKey(publicKey);
  return `${name}+${toHex(keyIdFor(name, type, publicKey))}+${toBase64(concat(Uint8Array.of(type), publicKey))}`;
}

/**
 * Signer key text `PRIVATE+KEY+name+hex(keyid)+base64(type||seed)` for an
 * Ed25519 seed (Go's note.GenerateKey). The key ID is over the public key.
 * Throws RangeError for an invalid name or type, or a seed that is not 32 bytes.
 */
export function formatSignerKey(name: string, type: number, seed: Uint8Array): string {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new RangeError('formatSignerKey: seed must be 32 bytes');
  const publicKey = ed25519().publicKey(seed);
  return `PRIVATE+KEY+${name}+${toHex(keyIdFor(name, type, publicKey))}+${toBase64(concat(Uint8Array.of(type), seed))}`;
}

/**
 * A new random Ed25519 (type 0x01) key pair for `name`, as key texts.
 * Throws RangeError for an invalid name.
 */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  checkName(name);
  const seed = randomSeed();
  return {
    signerKey: formatSignerKey(name, ED25519_TYPE, seed),
    verifierKey: formatVerifierKey(name, ED25519_TYPE, ed25519().publicKey(seed)),
  };
}

/**
 * The message a type 0x04 cosignature signs: `cosignature/v1\ntime <T>\n`
 * followed by the whole note text (tlog-cosignature §Ed25519 signed message).
 * Throws RangeError unless `timestamp` is a non-negative safe integer.
 */
export function cosignedMessage(timestamp: number, text: string | Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError('cosignedMessage: timestamp must be a non-negative safe integer');
  }
  // "time", a space, the timestamp as ASCII decimal without leading zeroes.
  const header = utf8(`cosignature/v1\ntime ${timestamp}\n`);
  return concat(header, typeof text === 'string' ? utf8(text) : text);
}

/**
 * A verifier for a 32-byte Ed25519 public key of signature type 0x01 (plain
 * Ed25519 over the note text) or 0x04 (cosignature: the signature bytes are
 * `timestamp(8, big-endian) || ed25519(64)` over {@link cosignedMessage}).
 * Cosignatures with a timestamp beyond Number.MAX_SAFE_INTEGER do not verify
 * (tlog-cosignature lets verifiers reject future timestamps).
 * Throws RangeError for an invalid name, an unsupported type, or a public key
 * that is not 32 bytes.
 */
export function newVerifier(
  name: string,
  type: number,
  publicKey: Uint8Array,
): NoteVerifier & { publicKey: Uint8Array; type: number } {
  checkPublicKey(publicKey);
  const keyId = keyIdFor(name, type, publicKey);
  const pub = publicKey.slice();
  let verify: (message: Uint8Array, signature: Uint8Array) => boolean;
  if (type === ED25519_TYPE) {
    verify = (message, signature) => ed25519().verify(signature, message, pub);
  } else if (type === COSIGNATURE_TYPE) {
    verify = (message, signature) => {
      // timestamped_signature: u64 timestamp || ed25519_signature[64] (tlog-cosignature §Format).
      if (signature.length !== 8 + 64) return false;
      let timestamp: number;
      try {
        timestamp = readUint64BE(signature, 0);
      } catch {
        return false;
      }
      return ed25519().verify(signature.subarray(8), cosignedMessage(timestamp, message), pub);
    };
  } else {
    throw new RangeError(`newVerifier: unsupported signature type ${type}`);
  }
  return { name, keyId, type, publicKey: pub, verify };
}

/**
 * Parses verifier key text `name+hex(keyid)+base64(type||publicKey)` (Go's
 * note.NewVerifier), for type 0x01 or 0x04 with a 32-byte Ed25519 key.
 * Throws MalformedError for bad syntax, an invalid name, an unknown type, a
 * wrong key length, or a key ID that does not match the name and key.
 */
export function parseVerifierKey(text: string): NoteVerifier & { publicKey: Uint8Array; type: number } {
  const { name, keyId, material } = splitKeyText(text, 'verifier key');
  const type = material[0]!;
  const publicKey = material.subarray(1);
  if (type !== ED25519_TYPE && type !== COSIGNATURE_TYPE)
    throw new MalformedError(`verifier key: unknown type ${type}`);
  if (publicKey.length !== 32) throw new MalformedError('verifier key: Ed25519 public key must be 32 bytes');
  if (!equalBytes(keyId, keyIdFor(name, type, publicKey)))
    throw new MalformedError('verifier key: key ID mismatch');
  return newVerifier(name, type, publicKey);
}

/** A decoded signer key: see {@link decodeSignerKey}. */
export interface DecodedSignerKey {
  name: string;
  keyId: Uint8Array;
  type: number;
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * Decodes signer key text `PRIVATE+KEY+name+hex(keyid)+base64(type||seed32)`
 * (Go's note.NewSigner) of type 0x01 or 0x04, deriving the public key and
 * checking the key ID against it. Throws MalformedError for bad syntax, an
 * invalid name, an unknown type, a wrong seed length or a key ID mismatch.
 */
export function decodeSignerKey(text: string): DecodedSignerKey {
  if (typeof text !== 'string' || !text.startsWith('PRIVATE+KEY+')) {
    throw new MalformedError('signer key: missing PRIVATE+KEY+ prefix');
  }
  const { name, keyId, material } = splitKeyText(text.slice('PRIVATE+KEY+'.length), 'signer key');
  const type = material[0]!;
  const seed = material.slice(1);
  if (type !== ED25519_TYPE && type !== COSIGNATURE_TYPE)
    throw new MalformedError(`signer key: unknown type ${type}`);
  if (seed.length !== 32) throw new MalformedError('signer key: Ed25519 seed must be 32 bytes');
  // The key ID is over the public key: derive it before checking (as Go does).
  const publicKey = ed25519().publicKey(seed);
  if (!equalBytes(keyId, keyIdFor(name, type, publicKey)))
    throw new MalformedError('signer key: key ID mismatch');
  return { name, keyId, type, seed, publicKey };
}

/**
 * Parses an Ed25519 (type 0x01) signer key text into a signer that signs the
 * note text. Throws MalformedError as {@link decodeSignerKey} does, and for a
 * key of another type (cosigner keys: cosignature.ts parseCosignerKey).
 */
export function parseSignerKey(text: string): NoteSigner & { verifierKey: string; publicKey: Uint8Array } {
  const key = decodeSignerKey(text);
  if (key.type !== ED25519_TYPE)
    throw new MalformedError(`signer key: type ${key.type} is not Ed25519 (0x01)`);
  const { seed } = key;
  return {
    name: key.name,
    keyId: key.keyId,
    publicKey: key.publicKey,
    verifierKey: formatVerifierKey(key.name, key.type, key.publicKey),
    sign: (message) => ed25519().sign(message, seed),
  };
}

/**
 * Signs `text` with one signer, returning the decoded signature line.
 * Throws RangeError if the text is not a valid note text (see
 * {@link signNote}), the signer's name is invalid, its key ID is not 4 bytes,
 * or it returns an empty signature.
 */
export function signText(text: string, signer: NoteSigner): NoteSignature {
  checkText(text);
  return signBytes(utf8(text), signer);
}

/**
 * Signs a note text with each signer, in order: `text`, a blank line, then one
 * signature line per signer (signed-note §Format). The text must end in a
 * newline, have no unpaired surrogates and no control characters other than
 * newline. Throws RangeError for an invalid text, no signers, two signers with
 * the same name and key ID, an invalid signer, or a note over MAX_NOTE_SIZE.
 */
export function signNote(text: string, signers: NoteSigner[]): string {
  checkText(text);
  if (signers.length === 0) throw new RangeError('signNote: at least one signer is needed');
  if (signers.length > MAX_SIGNATURES) throw new RangeError(`signNote: more than ${MAX_SIGNATURES} signers`);
  const message = utf8(text);
  const seen = new Set<string>();
  let out = text + '\n';
  for (const signer of signers) {
    const id = keyOf(signer.name, signer.keyId);
    if (seen.has(id)) throw new RangeError(`signNote: duplicate signer ${signer.name}`);
    seen.add(id);
    out += formatSignatureLine(signBytes(message, signer));
  }
  if (utf8(out).length > MAX_NOTE_SIZE) throw new RangeError('signNote: note too large');
  return out;
}

/**
 * One signature line, `— <name> base64(keyId || signature)` and a newline
 * (signed-note §Signatures). Throws RangeError for an invalid name, a key ID
 * that is not 4 bytes, or an empty signature.
 */
export function formatSignatureLine(sig: NoteSignature): string {
  checkName(sig.name);
  checkKeyId(sig.keyId);
  if (!(sig.signature instanceof Uint8Array) || sig.signature.length === 0) {
    throw new RangeError('formatSignatureLine: empty signature');
  }
  return `${SIG_PREFIX}${sig.name} ${toBase64(concat(sig.keyId, sig.signature))}\n`;
}

/**
 * Parses one signature line, with or without its final newline. Throws
 * MalformedError unless it is `— `, a valid key name, one space, and strict
 * base64 of at least 5 bytes (a key ID and a non-empty signature, as Go).
 */
export function parseSignatureLine(line: string): NoteSignature {
  if (typeof line !== 'string') throw new MalformedError('signature line: not a string');
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (CONTROL.test(body) || LONE_SURROGATE.test(body))
    throw new MalformedError('signature line: invalid character');
  if (!body.startsWith(SIG_PREFIX))
    throw new MalformedError('signature line: must start with an em dash and a space');
  const rest = body.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw new MalformedError('signature line: missing signature');
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw new MalformedError('signature line: invalid key name');
  const raw = fromBase64(b64);
  if (raw.length < KEY_ID_SIZE + 1) throw new MalformedError('signature line: signature too short');
  return { name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
}

/**
 * Splits a signed note into its text and signatures without verifying any
 * (signed-note §Format): valid UTF-8 with no control characters but newline,
 * at most MAX_NOTE_SIZE bytes, text and signatures separated by the last
 * blank line, one or more signature lines each ending in a newline, at most
 * MAX_SIGNATURES of them. Throws MalformedError otherwise.
 */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') throw new MalformedError('note: not a string');
  // UTF-8 is never shorter than UTF-16 code units: a cheap bound before encoding.
  if (note.length > MAX_NOTE_SIZE || utf8(note).length > MAX_NOTE_SIZE)
    throw new MalformedError('note: too large');
  // "MUST be valid UTF-8 and MUST NOT contain any ASCII control characters other than newline".
  if (LONE_SURROGATE.test(note)) throw new MalformedError('note: invalid UTF-8');
  if (CONTROL_EXCEPT_NEWLINE.test(note)) throw new MalformedError('note: control character');
  // "the text is separated from the signatures by the last empty line in the note".
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new MalformedError('note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n'))
    throw new MalformedError('note: signatures must end in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new MalformedError('note: too many signatures');
  return { text, signatures: lines.map((line) => parseSignatureLine(line)) };
}

/**
 * Parses a signed note and checks its signatures against `verifiers`, with
 * the semantics of Go's note.Open: a signature whose (name, key ID) matches a
 * verifier must verify, and only the first one per key is checked (later
 * signatures by the same key are dropped); signatures by unknown keys are
 * ignored (signed-note §Signatures) and reported once per identical line.
 *
 * Throws MalformedError for a malformed note ({@link parseNote}),
 * SignatureError if a known key's signature fails to verify (the whole note
 * is rejected, signed-note §Signatures "SHOULD"), UnverifiedNoteError if no
 * known key signed, and RangeError if two verifiers share a name and key ID.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    checkKeyId(v.keyId);
    const id = keyOf(v.name, v.keyId);
    if (known.has(id)) throw new RangeError(`openNote: ambiguous verifiers for ${v.name}+${toHex(v.keyId)}`);
    known.set(id, v);
  }
  const { text, signatures } = parseNote(note);
  const message = utf8(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seenKnown = new Set<string>();
  const seenUnknown = new Set<string>();
  for (const sig of signatures) {
    const id = keyOf(sig.name, sig.keyId);
    const verifier = known.get(id);
    if (verifier === undefined) {
      // "Verifiers MUST ignore signatures from unknown keys, even if they share a name or ID (but not both)".
      const line = `${id}\n${toHex(sig.signature)}`;
      if (!seenUnknown.has(line)) {
        seenUnknown.add(line);
        unverified.push(sig);
      }
      continue;
    }
    if (seenKnown.has(id)) continue; // Go: "Drop repeated signatures by a single verifier."
    seenKnown.add(id);
    // "If the key name and ID match a known key, verifiers MUST verify the signature."
    if (!verifier.verify(message, sig.signature)) {
      throw new SignatureError(`invalid signature by ${sig.name}+${toHex(sig.keyId)}`);
    }
    verified.push(sig);
  }
  // "If no signature from a known key verifies successfully, clients MUST reject the note."
  if (verified.length === 0) throw new UnverifiedNoteError(text);
  return { text, verified, unverified };
}

function signBytes(message: Uint8Array, signer: NoteSigner): NoteSignature {
  checkName(signer.name);
  checkKeyId(signer.keyId);
  const signature = signer.sign(message);
  if (!(signature instanceof Uint8Array) || signature.length === 0) {
    throw new RangeError(`sign: signer ${signer.name} returned an empty signature`);
  }
  return { name: signer.name, keyId: signer.keyId.slice(), signature };
}

/** Splits `name+hex8+base64` (after any PRIVATE+KEY+ prefix); MalformedError on bad syntax. */
function splitKeyText(text: string, what: string): { name: string; keyId: Uint8Array; material: Uint8Array } {
  if (typeof text !== 'string') throw new MalformedError(`${what}: not a string`);
  // Go's chop: name up to the first '+', the ID up to the next; base64 may itself contain '+'.
  const i = text.indexOf('+');
  const j = i < 0 ? -1 : text.indexOf('+', i + 1);
  if (j < 0) throw new MalformedError(`${what}: expected name+keyid+key`);
  const name = text.slice(0, i);
  const hex = text.slice(i + 1, j);
  if (!isValidKeyName(name)) throw new MalformedError(`${what}: invalid key name`);
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new MalformedError(`${what}: key ID must be 8 hex digits`);
  const material = fromBase64(text.slice(j + 1));
  if (material.length === 0) throw new MalformedError(`${what}: empty key`);
  return { name, keyId: fromHex(hex), material };
}

function checkText(text: string): void {
  if (typeof text !== 'string') throw new TypeError('note text: expected a string');
  if (!text.endsWith('\n')) throw new RangeError('note text: must end in a newline');
  if (LONE_SURROGATE.test(text)) throw new RangeError('note text: invalid UTF-8 (unpaired surrogate)');
  if (CONTROL_EXCEPT_NEWLINE.test(text)) throw new RangeError('note text: control character');
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw new RangeError(`invalid key name ${JSON.stringify(name)}`);
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > 255)
    throw new RangeError('signature type must be a byte');
}

function checkKeyId(keyId: Uint8Array): void {
  if (!(keyId instanceof Uint8Array) || keyId.length !== KEY_ID_SIZE)
    throw new RangeError('key ID must be 4 bytes');
}

function checkPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new RangeError('Ed25519 public key must be 32 bytes');
  }
}

function keyOf(name: string, keyId: Uint8Array): string {
  return `${name}+${toHex(keyId)}`;
}
