/** The node:crypto backends of the ledger's Ed25519 and SHA-256, for every long-running `urna` process. */
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { setSha256Backend } from '../../ledger/hash.js';
import { nativeEd25519 } from './native-ed25519.js';
import { nativeSha256 } from './native-sha256.js';

/** Installs node:crypto's Ed25519 and SHA-256 in the ledger (same results as the portable ones, faster here). */
export function useNativeCrypto(): void {
  setEd25519Backend(nativeEd25519);
  setSha256Backend(nativeSha256);
}
