/**
 * The platform's own Ed25519 verify (WebCrypto, `crypto.subtle`; in
 * Chromium since 137, Firefox 129, Safari 17, and Node) as the verifier's
 * backend, where the platform has it; @noble stays the fallback and does
 * what WebCrypto cannot do synchronously. The checks that readers run
 * synchronously use it through ledger/ed25519.ts `verifiedAhead`.
 *
 * Strictness matches the @noble backend's (RFC 8032 §5.1.7, zip215 off):
 * WebCrypto implementations reject a non-canonical S; a non-canonical
 * encoding of the key or of R (y ≥ p) is refused here before WebCrypto sees
 * it, so every platform gives the same verdict.
 */
import {
  ed25519,
  nobleEd25519,
  setEd25519Backend,
  verifiedAhead,
  type Ed25519Backend,
} from '../ledger/ed25519.js';
import { decodeRecord } from '../ledger/record.js';
import type { Decoder } from './replayer.js';
import { fromHex, toHex } from '../ledger/bytes.js';

const ALGORITHM = { name: 'Ed25519' } as const;
/** Imported keys kept (a page checks a handful; an audit in a browser checks one per ballot). */
const KEY_CACHE = 4096;

/** Whether the 32-byte little-endian y of a point encoding is at least p = 2^255 - 19 (non-canonical). */
function nonCanonical(point: Uint8Array): boolean {
  if ((point[31]! & 0x7f) !== 0x7f || point[0]! < 0xed) return false;
  for (let i = 1; i < 31; i++) if (point[i] !== 0xff) return false;
  return true;
}

/** The WebCrypto backend over `subtle` (sign and key derivation stay @noble's). */
export function webCryptoEd25519(subtle: SubtleCrypto): Ed25519Backend {
  const keys = new Map<string, Promise<CryptoKey>>();
  const importKey = (publicKey: Uint8Array): Promise<CryptoKey> => {
    const id = toHex(publicKey);
    let key = keys.get(id);
    if (!key) {
      if (keys.size >= KEY_CACHE) keys.clear();
      key = subtle.importKey('raw', new Uint8Array(publicKey), ALGORITHM, false, ['verify']);
      keys.set(id, key);
    }
    return key;
  };
  return {
    ...nobleEd25519,
    async verifyAsync(signature, message, publicKey) {
      if (signature.length !== 64 || publicKey.length !== 32) return false;
      if (nonCanonical(publicKey) || nonCanonical(signature.subarray(0, 32))) return false;
      try {
        return await subtle.verify(
          ALGORITHM,
          await importKey(publicKey),
          new Uint8Array(signature),
          new Uint8Array(message),
        );
      } catch {
        return false; // a key WebCrypto refuses (not a point) is no valid signature
      }
    },
  };
}

// RFC 8032 §7.1, TEST 2: a one-byte message, to check that the platform verifies as it should.
const PROBE = {
  publicKey: fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'),
  message: fromHex('72'),
  signature: fromHex(
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ),
};

/**
 * Installs {@link webCryptoEd25519} as the Ed25519 backend when @noble is
 * the one in use (a browser; a Node service has installed its native one)
 * and the platform has WebCrypto Ed25519 that passes RFC 8032's test vector
 * (accepts it, and refuses it with one bit changed). Returns whether it did.
 */
export async function usePlatformEd25519(): Promise<boolean> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle || ed25519() !== nobleEd25519) return false;
  const candidate = webCryptoEd25519(subtle);
  const bad = new Uint8Array(PROBE.signature);
  bad[10]! ^= 1;
  try {
    const good = await candidate.verifyAsync!(PROBE.signature, PROBE.message, PROBE.publicKey);
    const forged = await candidate.verifyAsync!(bad, PROBE.message, PROBE.publicKey);
    if (!good || forged) return false;
  } catch {
    return false;
  }
  if (ed25519() !== nobleEd25519) return false;
  setEd25519Backend(candidate);
  return true;
}

/**
 * The replay's decoder where Ed25519 is asynchronous (a browser): each
 * chunk's records decoded as ledger/record.ts decodeRecord does, their
 * signatures verified together by the platform (ledger/ed25519.ts
 * verifiedAhead). A chunk with a bad record rejects; the replayer then finds
 * which one, one by one.
 */
export const decodeVerifiedAhead: Decoder = (entries) =>
  verifiedAhead(() => entries.map((e) => decodeRecord(e)));
