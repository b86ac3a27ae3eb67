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
import type { ProofItem } from '../../ledger/encrypted-election.js';
import type { ProofJob, ProofReply, WorkerJob, WorkerReply, WorkerResult } from './record-worker.js';

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

/** What every queued task can do: fail. */
interface Task {
  reject(e: unknown): void;
}

/**
 * One kind of work for the workers: the tasks waiting for the next flush,
 * those in flight by job id, and the message that carries a chunk of them.
 */
interface Lane<T extends Task> {
  queue: T[];
  readonly inflight: Map<number, T[]>;
  /** The job carrying `chunk` as job `id`, and the buffers to transfer with it. */
  message(id: number, chunk: readonly T[]): { job: WorkerJob | ProofJob; transfer: ArrayBuffer[] };
}

export class RecordPool {
  private readonly workers: Worker[];
  private readonly decodes: Lane<Job> = {
    queue: [],
    inflight: new Map(),
    message: (id, chunk) => {
      const job = pack(id, chunk);
      return { job, transfer: [job.packed.buffer] };
    },
  };
  private readonly proofs: Lane<ProofTask> = {
    queue: [],
    inflight: new Map(),
    message: (id, chunk) => ({ job: { kind: 'proofs', id, items: chunk.map((t) => t.item) }, transfer: [] }),
  };
  private readonly lanes: ReadonlyArray<Lane<Task>> = [this.decodes, this.proofs];
  private nextId = 0;
  private next = 0;
  private closed = false;
  private broken: UrnaError | null = null;

  constructor(size = availableParallelism()) {
    const url = new URL('./record-worker-entry.js', import.meta.url);
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = new Worker(url);
      w.on('message', (reply: WorkerReply | ProofReply) => {
        if ('verdicts' in reply)
          return this.take(this.proofs, reply.id).forEach((t, i) => t.resolve(reply.verdicts[i]!));
        const { id, results, hashes } = reply;
        this.take(this.decodes, id).forEach((job, i) => {
          const r = results[i]!;
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
    return this.submit(this.decodes, (resolve, reject) => ({ bytes, resolve, reject }));
  }

  /**
   * Whether an encrypted ballot's proofs verify (ledger/encrypted-election.ts
   * verifyBallotProofs), on a worker; the ballots asked for in one turn of
   * the event loop are verified in batches, one per worker.
   */
  verifyProofs(item: ProofItem): Promise<boolean> {
    return this.submit(this.proofs, (resolve, reject) => ({ item, resolve, reject }));
  }

  /** Queues a task; the tasks of one turn of the event loop are flushed together. */
  private submit<T extends Task, R>(
    lane: Lane<T>,
    task: (resolve: (r: R) => void, reject: (e: unknown) => void) => T,
  ): Promise<R> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new UrnaError('unavailable', 'record pool closed'));
    return new Promise((resolve, reject) => {
      if (lane.queue.length === 0) setImmediate(() => this.flush(lane));
      lane.queue.push(task(resolve, reject));
    });
  }

  /** Sends the lane's queued tasks to the workers, one chunk per worker. */
  private flush<T extends Task>(lane: Lane<T>): void {
    const tasks = lane.queue;
    lane.queue = [];
    // Workers with jobs in flight keep the process alive; idle ones do not (take).
    if (tasks.length && this.idle()) for (const x of this.workers) x.ref();
    const per = Math.ceil(tasks.length / this.workers.length);
    for (let i = 0; i < tasks.length; i += per) {
      const chunk = tasks.slice(i, i + per);
      const id = this.nextId++;
      lane.inflight.set(id, chunk);
      const { job, transfer } = lane.message(id, chunk);
      this.workers[this.next++ % this.workers.length]!.postMessage(job, transfer);
    }
  }

  /** The tasks of a job a worker answered. */
  private take<T extends Task>(lane: Lane<T>, id: number): T[] {
    const tasks = lane.inflight.get(id)!;
    lane.inflight.delete(id);
    if (this.idle()) for (const x of this.workers) x.unref();
    return tasks;
  }

  /** No job is in flight. */
  private idle(): boolean {
    return this.lanes.every((l) => l.inflight.size === 0);
  }

  /**
   * Decodes and verifies `entries` (a {@link Decoder} of verifier/replayer.ts):
   * resolves with them in order, or rejects with the error of the first that
   * fails.
   */
  decodeAll(entries: readonly Uint8Array[]): Promise<DecodedRecord[]> {
    return Promise.all(entries.map((e) => this.decode(e)));
  }

  /** Verdicts on many proof items, in order ({@link verifyProofs}: in batches, one per worker). */
  verifyAllProofs(items: readonly ProofItem[]): Promise<boolean[]> {
    return Promise.all(items.map((x) => this.verifyProofs(x)));
  }

  /** The replay work (verifier/replayer.ts ReplayWork) done on this pool: decoding and proofs. */
  replayWork(): {
    decode: (entries: readonly Uint8Array[]) => Promise<DecodedRecord[]>;
    prove: (items: readonly ProofItem[]) => Promise<boolean[]>;
  } {
    return { decode: (entries) => this.decodeAll(entries), prove: (items) => this.verifyAllProofs(items) };
  }

  /** A worker died: the pool is unusable; every job, queued or in flight, fails. */
  private fail(e: unknown): void {
    this.broken ??= new UrnaError(
      'unavailable',
      `record pool failed: ${e instanceof Error ? e.message : String(e)}`,
    );
    for (const lane of this.lanes) {
      for (const tasks of lane.inflight.values()) for (const t of tasks) t.reject(this.broken);
      lane.inflight.clear();
      for (const t of lane.queue) t.reject(this.broken);
      lane.queue = [];
    }
  }

  /**
   * Stops the workers. A timer holds the event loop open until every one has
   * exited: terminate() settles on the worker's exit event, and on Node 20 the
   * loop can end before that event arrives (a worker unref'd while idle, or
   * stopped just after answering), leaving the caller's await unsettled and
   * the process exiting with code 13 (seen in about one run in ten).
   */
  async close(): Promise<void> {
    this.closed = true;
    const holdOpen = setInterval(() => {}, 1 << 30);
    try {
      await Promise.all(this.workers.map((w) => w.terminate()));
    } finally {
      clearInterval(holdOpen);
    }
  }
}
