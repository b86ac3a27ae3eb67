/**
 * Worker thread of RecordPool: decodes and signature-checks records
 * (ledger/record.ts decodeRecord) with native Ed25519, and verifies
 * the proofs of encrypted ballots and guardians' decryptions
 * (ledger/encrypted-election.ts verifyProofItems: a job's ballots in one
 * batch), off the main event loop. Messages: {@link WorkerJob} or {@link ProofJob} in,
 * {@link WorkerReply} or {@link ProofReply} out.
 */
import { parentPort } from 'node:worker_threads';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { setSha256Backend } from '../../ledger/hash.js';
import { nativeSha256 } from './native-sha256.js';
import { UrnaError } from '../../ledger/errors.js';
import { decodeRecord, type DecodedRecord } from '../../ledger/record.js';
import { verifyProofItems, type ProofItem } from '../../ledger/encrypted-election.js';
import { nativeEd25519 } from './native-ed25519.js';

setEd25519Backend(nativeEd25519);
setSha256Backend(nativeSha256);

/** One entry's outcome: its parsed record (its bytes and leaf hash travel apart, packed), or its error. */
export type WorkerResult =
  { ok: true; record: DecodedRecord['record'] } | { ok: false; name: string; code: string; message: string };

/**
 * A job: the entries packed end to end in one transferred buffer (`ends[i]`
 * is where entry i ends), so a message moves one buffer however many
 * entries it holds; posting the entries themselves would copy each one's
 * whole backing buffer (an HTTP body's pool slab, a tile bundle, a file).
 */
export type WorkerJob = { kind: 'decode'; id: number; packed: Uint8Array<ArrayBuffer>; ends: Uint32Array };

/** A job of proofs (ledger/encrypted-election.ts ProofItem): its ballots verified together in one batch, its decryptions one by one. */
export type ProofJob = { kind: 'proofs'; id: number; items: ProofItem[] };
/** Each item's verdict, in order. */
export type ProofReply = { id: number; verdicts: boolean[] };

/** The reply: outcomes in order, and the leaf hashes packed (32 bytes each; zeros for a failed entry). */
export type WorkerReply = { id: number; results: WorkerResult[]; hashes: Uint8Array };

function proofs({ id, items }: ProofJob): void {
  const reply: ProofReply = { id, verdicts: verifyProofItems(items) };
  parentPort!.postMessage(reply);
}

parentPort!.on('message', (job: WorkerJob | ProofJob) => {
  if (job.kind === 'proofs') return proofs(job);
  const { id, packed, ends } = job;
  const hashes = new Uint8Array(32 * ends.length);
  const results = Array.from(ends, (end, i): WorkerResult => {
    try {
      const d = decodeRecord(packed.subarray(i === 0 ? 0 : ends[i - 1], end));
      hashes.set(d.leafHash, 32 * i);
      return { ok: true, record: d.record };
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
  const reply: WorkerReply = { id, results, hashes };
  parentPort!.postMessage(reply, [hashes.buffer]);
});
