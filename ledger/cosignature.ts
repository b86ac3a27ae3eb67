/**
 * Witness cosignatures, C2SP tlog-cosignature v1 with Ed25519 (signature type
 * 0x04): https://c2sp.org/tlog-cosignature.
 *
 * A cosignature is a note signature line on a checkpoint whose bytes are
 * `keyid(4) || timestamp(8, big-endian) || ed25519(64)`, where the Ed25519
 * signature covers `cosignature/v1\ntime <timestamp>\n` followed by the
 * checkpoint body. Verification is done by the 0x04 verifiers of note.ts
 * ({@link cosignatureVerifier}, or parseVerifierKey on a 0x04 key text).
 */
import { concat, readUint64BE, uint64BE } from './bytes.js';
import { ed25519, randomSeed } from './ed25519.js';
import { MalformedError } from './errors.js';
import type { NoteSigner, NoteSignature, NoteVerifier } from './note.js';
import {
  COSIGNATURE_TYPE,
  KEY_ID_SIZE,
  cosignedMessage,
  decodeSignerKey,
  formatSignerKey,
  formatVerifierKey,
  newVerifier,
} from './note.js';

export { COSIGNATURE_TYPE, cosignedMessage };

/** Bytes of a type 0x04 signature after the key ID: timestamp(8) || Ed25519 signature(64). */
export const COSIGNATURE_SIZE = 8 + 64;

/** A clock in POSIX seconds. */
export type Clock = () => number;

/** The default clock: `Math.floor(Date.now() / 1000)`. */
export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

/** A decoded cosignature. */
export interface Cosignature {
  keyId: Uint8Array;
  /** POSIX seconds at which the cosigner signed. */
  timestamp: number;
  /** The 64-byte Ed25519 signature over {@link cosignedMessage}. */
  signature: Uint8Array;
}

/**
 * A new random cosigner key pair for `name`, as key texts of type 0x04:
 * `PRIVATE+KEY+name+hex(keyid)+base64(0x04||seed32)` and
 * `name+hex(keyid)+base64(0x04||pubkey32)` (tlog-cosignature §Format: the key
 * ID is over 0x04 and the public key). Throws RangeError for an invalid name.
 */
export function generateCosignerKey(name: string): { signerKey: string; verifierKey: string } {
  const seed = randomSeed();
  return {
    signerKey: formatSignerKey(name, COSIGNATURE_TYPE, seed),
    verifierKey: formatVerifierKey(name, COSIGNATURE_TYPE, ed25519().publicKey(seed)),
  };
}

/**
 * Parses a type 0x04 signer key text into a NoteSigner whose `sign(text)`
 * returns `timestamp(8, big-endian) || ed25519(cosignedMessage(timestamp, text))`
 * with the timestamp read from `now` when signing. The message given to sign
 * must be the checkpoint body (signNote passes the note text).
 *
 * Throws MalformedError for a malformed key or one that is not of type 0x04.
 * Its `sign` throws RangeError if `now()` is not a non-negative safe integer.
 */
export function parseCosignerKey(
  text: string,
  now: Clock = systemClock,
): NoteSigner & { verifierKey: string; publicKey: Uint8Array } {
  const key = decodeSignerKey(text);
  if (key.type !== COSIGNATURE_TYPE) {
    throw new MalformedError(`cosigner key: type ${key.type} is not a cosignature key (0x04)`);
  }
  const { seed } = key;
  return {
    name: key.name,
    keyId: key.keyId,
    publicKey: key.publicKey,
    verifierKey: formatVerifierKey(key.name, COSIGNATURE_TYPE, key.publicKey),
    sign(message) {
      const timestamp = now();
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
        throw new RangeError('cosigner clock: expected non-negative integer seconds');
      }
      // Serialized in sequence, timestamp big-endian (tlog-cosignature §Format, RFC 8446 §3.3).
      return concat(uint64BE(timestamp), ed25519().sign(cosignedMessage(timestamp, message), seed));
    },
  };
}

/**
 * A type 0x04 cosignature verifier for a cosigner's name and 32-byte Ed25519
 * public key (same as parseVerifierKey on its verifier key text). Throws
 * RangeError for an invalid name or a key that is not 32 bytes.
 */
export function cosignatureVerifier(
  name: string,
  publicKey: Uint8Array,
): NoteVerifier & { publicKey: Uint8Array; type: number } {
  return newVerifier(name, COSIGNATURE_TYPE, publicKey);
}

/**
 * Decodes the signature bytes of a type 0x04 note signature (the bytes after
 * the key ID) into timestamp and Ed25519 signature. Does not verify. Throws
 * MalformedError unless they are exactly 72 bytes, or if the timestamp is
 * beyond Number.MAX_SAFE_INTEGER (the spec's own bound is 2^63 - 1).
 */
export function parseCosignature(sig: NoteSignature): Cosignature {
  if (!(sig.keyId instanceof Uint8Array) || sig.keyId.length !== KEY_ID_SIZE) {
    throw new MalformedError('cosignature: key ID must be 4 bytes');
  }
  if (!(sig.signature instanceof Uint8Array) || sig.signature.length !== COSIGNATURE_SIZE) {
    throw new MalformedError(`cosignature: expected ${COSIGNATURE_SIZE} signature bytes`);
  }
  return {
    keyId: sig.keyId.slice(),
    timestamp: readUint64BE(sig.signature, 0),
    signature: sig.signature.slice(8),
  };
}
