/**
 * Record decoding and signature checks on all cores: a pool of worker
 * threads running ledger/record.ts decodeRecord (the same pure function the
 * verifier runs), so the sequencer's event loop only routes bytes.
 * Submissions arriving in the same turn of the event loop travel to the
 * workers together, one message per worker. Encrypted ballots' proofs are
 * verified there too ({@link RecordPool.verifyProofs}), the ballots of one
 * turn in one batch per worker.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MalformedError, SignatureError, UrnaError } from '../../ledger/errors.js';
import { RecordError, type DecodedRecord, type RecordErrorCode } from '../../ledger/record.js';
import type {
  ProofItem,
  ProofJob,
  ProofReply,
  WorkerJob,
  WorkerReply,
  WorkerResult,
} from './record-worker.js';

interface ProofTask {
  item: ProofItem;
  resolve(ok: boolean): void;
  reject(e: unknown): void;
}

interface Job {
  bytes: Uint8Array;
  resolve(d: DecodedRecord): void;
  reject(e: unknown): void;
}

/** Rebuilds the error a worker reported as the same class, with the same code. */
function rebuildError(r: Extract<WorkerResult, { ok: false }>): UrnaError {
  switch (r.name) {
    case 'RecordError':
      return new RecordError(r.code as RecordErrorCode, r.message);
    case 'SignatureError':
      return new SignatureError(r.message);
    case 'MalformedError':
      return new MalformedError(r.message);
    default:
      return new UrnaError(r.code, r.message);
  }
}

/** A worker's job: the entries copied end to end into one buffer (then transferred, not copied again). */
function pack(id: number, jobs: readonly Job[]): WorkerJob {
  const ends = new Uint32Array(jobs.length);
  let total = 0;
  jobs.forEach((j, i) => (ends[i] = total += j.bytes.length));
  const packed = new Uint8Array(total);
  jobs.forEach((j, i) => packed.set(j.bytes, i === 0 ? 0 : ends[i - 1]));
  return { kind: 'decode', id, packed, ends };
}

export class RecordPool {
  private readonly workers: Worker[];
  private readonly inflight = new Map<number, Job[]>();
  private readonly inflightProofs = new Map<number, ProofTask[]>();
  private queue: Job[] = [];
  private proofQueue: ProofTask[] = [];
  private nextId = 0;
  private next = 0;
  private closed = false;
  private broken: UrnaError | null = null;

  constructor(size = availableParallelism()) {
    const url = new URL('./record-worker-entry.js', import.meta.url);
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = new Worker(url);
      w.on('message', (reply: WorkerReply | ProofReply) => {
        if ('verdicts' in reply) {
          const tasks = this.inflightProofs.get(reply.id)!;
          this.inflightProofs.delete(reply.id);
          this.idle();
          return tasks.forEach((t, i) => t.resolve(reply.verdicts[i]!));
        }
        const { id, results, hashes } = reply;
        const jobs = this.inflight.get(id)!;
        this.inflight.delete(id);
        this.idle();
        results.forEach((r, i) => {
          const job = jobs[i]!;
          if (!r.ok) return job.reject(rebuildError(r));
          job.resolve({ record: r.record, bytes: job.bytes, leafHash: hashes.subarray(32 * i, 32 * i + 32) });
        });
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`record worker exited with code ${code}`));
      });
      // Idle workers do not keep the process alive; workers with jobs in flight do (flush).
      w.unref();
      return w;
    });
  }

  /** Decodes and verifies a record; rejects with its RecordError, SignatureError or MalformedError. */
  decode(bytes: Uint8Array): Promise<DecodedRecord> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new UrnaError('unavailable', 'record pool closed'));
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ bytes, resolve, reject });
    });
  }

  /**
   * Whether an encrypted ballot's proofs verify (ledger/encrypted-election.ts
   * verifyBallotProofs), on a worker; the ballots asked for in one turn of
   * the event loop are verified in batches, one per worker.
   */
  verifyProofs(item: ProofItem): Promise<boolean> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new UrnaError('unavailable', 'record pool closed'));
    return new Promise((resolve, reject) => {
      if (this.proofQueue.length === 0) setImmediate(() => this.flushProofs());
      this.proofQueue.push({ item, resolve, reject });
    });
  }

  private flushProofs(): void {
    const tasks = this.proofQueue;
    this.proofQueue = [];
    if (tasks.length) this.busy();
    const per = Math.ceil(tasks.length / this.workers.length);
    for (let i = 0; i < tasks.length; i += per) {
      const chunk = tasks.slice(i, i + per);
      const id = this.nextId++;
      this.inflightProofs.set(id, chunk);
      const job: ProofJob = { kind: 'proofs', id, items: chunk.map((t) => t.item) };
      this.workers[this.next++ % this.workers.length]!.postMessage(job);
    }
  }

  /** Workers with jobs in flight keep the process alive (flush); idle ones do not. */
  private busy(): void {
    if (this.inflight.size === 0 && this.inflightProofs.size === 0) for (const x of this.workers) x.ref();
  }

  private idle(): void {
    if (this.inflight.size === 0 && this.inflightProofs.size === 0) for (const x of this.workers) x.unref();
  }

  private flush(): void {
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length) this.busy();
    const per = Math.ceil(jobs.length / this.workers.length);
    for (let i = 0; i < jobs.length; i += per) {
      const chunk = jobs.slice(i, i + per);
      const id = this.nextId++;
      this.inflight.set(id, chunk);
      const worker = this.workers[this.next++ % this.workers.length]!;
      const job = pack(id, chunk);
      worker.postMessage(job, [job.packed.buffer]);
    }
  }

  /**
   * Decodes and verifies `entries` (a {@link Decoder} of verifier/replayer.ts):
   * resolves with them in order, or rejects with the error of the first that
   * fails.
   */
  decodeAll(entries: readonly Uint8Array[]): Promise<DecodedRecord[]> {
    return Promise.all(entries.map((e) => this.decode(e)));
  }

  /** A worker died: the pool is unusable; every job, queued or in flight, fails. */
  private fail(e: unknown): void {
    this.broken ??= new UrnaError(
      'unavailable',
      `record pool failed: ${e instanceof Error ? e.message : String(e)}`,
    );
    for (const jobs of this.inflight.values()) for (const j of jobs) j.reject(this.broken);
    this.inflight.clear();
    for (const tasks of this.inflightProofs.values()) for (const t of tasks) t.reject(this.broken);
    this.inflightProofs.clear();
    for (const j of [...this.queue, ...this.proofQueue]) j.reject(this.broken);
    this.queue = [];
    this.proofQueue = [];
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
