/**
 * A LevelDB log driven in process through the sequencer (no HTTP), for the
 * benches that need a big log fast: `urna serve`'s store, signer state and
 * tick, with batches as big as the sequencer takes.
 */
import { join } from 'node:path';
import { utf8 } from '../../ledger/bytes.js';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '../../ledger/note.js';
import { Sequencer } from '../../services/sequencer/sequencer.js';
import { openDataDir } from '../../services/storage/data-dir.js';
import { FileSignerState } from '../../services/storage/signer-state.js';

/** Entry `i` of a bench log (about 100 bytes, distinct). */
export function benchEntry(i: number): Uint8Array {
  return utf8(`bench entry ${i} ${'e'.repeat(80)}`);
}

/** Opens (or creates) the log in `dir` and starts its sequencer. */
export async function openBenchLog(
  dir: string,
  signerKey = generateSignerKey('bench.example/log').signerKey,
) {
  const signer = parseSignerKey(signerKey);
  const verifier = parseVerifierKey(signer.verifierKey);
  const signerState = new FileSignerState(join(dir, 'log.key.checkpoint'));
  const { store } = await openDataDir(join(dir, 'data'), { origin: signer.name });
  const sequencer = await Sequencer.open({
    store,
    signer,
    verifier,
    signerState,
    batchPeriodMs: 1,
    maxBatch: 8192,
    maxPending: 1 << 20,
  });
  sequencer.start();
  return {
    signer,
    verifier,
    signerState,
    signerKey,
    store,
    sequencer,
    /**
     * Appends entries `from` to `to` - 1 (benchEntry), 16,384 in flight at a
     * time, receipts later; resolves with the entries' total bytes.
     */
    async append(from: number, to: number): Promise<number> {
      let bytes = 0;
      for (let i = from; i < to;) {
        const batch: Array<Promise<unknown>> = [];
        for (let j = 0; j < 16_384 && i < to; j++, i++) {
          const entry = benchEntry(i);
          bytes += entry.length;
          batch.push(sequencer.submit(entry, 'later'));
        }
        await Promise.all(batch);
      }
      return bytes;
    },
    async close(): Promise<void> {
      await sequencer.stop();
      await store.close();
    },
  };
}
