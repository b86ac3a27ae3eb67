/**
 * Worker thread of RecordPool: decodes and signature-checks records
 * (ledger/record.ts decodeRecord) with native Ed25519, off the main event
 * loop. Messages: `{ id, entries: Uint8Array[] }` in, `{ id, results }` out.
 */
import { parentPort } from 'node:worker_threads';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { setSha256Backend } from '../../ledger/hash.js';
import { nativeSha256 } from './native-sha256.js';
import { UrnaError } from '../../ledger/errors.js';
import { decodeRecord } from '../../ledger/record.js';
import { nativeEd25519 } from './native-ed25519.js';

setEd25519Backend(nativeEd25519);
setSha256Backend(nativeSha256);

export type WorkerResult =
  | { ok: true; decoded: ReturnType<typeof decodeRecord> }
  | { ok: false; name: string; code: string; message: string };

parentPort!.on('message', ({ id, entries }: { id: number; entries: Uint8Array[] }) => {
  const results: WorkerResult[] = entries.map((bytes) => {
    try {
      return { ok: true, decoded: decodeRecord(bytes) };
    } catch (e) {
      if (e instanceof UrnaError) return { ok: false, name: e.name, code: e.code, message: e.message };
      return {
        ok: false,
        name: 'Error',
        code: 'internal',
        message: e instanceof Error ? e.message : String(e),
      };
    }
  });
  parentPort!.postMessage({ id, results });
});
