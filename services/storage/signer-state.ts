/**
 * The signer's memory: the last checkpoint the log key signed, kept outside
 * the store it signs over (as a tlog-witness keeps its state, and as
 * Sunlight keeps its checkpoint in a lock backend apart from its tiles).
 *
 * It is what lets a node see that its store went back: a truncated or
 * corrupted write-ahead log, a deleted database, a restored backup all
 * leave a store smaller than, or different from, a tree the key already
 * signed, and the sequencer refuses to serve it or sign over it
 * (Sequencer.open). So it is written, durably, after a checkpoint is signed
 * and before any receipt for it is handed out.
 *
 * Contract: `write` is atomic and durable (after a crash, `read` returns
 * the old note or the new one, never a torn one); `read` returns exactly
 * what the last completed `write` wrote, or null if there was none.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import { isTransientIoError, StorageUnavailableError } from './errors.js';

export interface SignerState {
  /** Where the state is kept, for messages (a file path). */
  readonly where: string;
  /** The last checkpoint note the key signed, or null if none was recorded. */
  read(): Promise<string | null>;
  /** Records a newly signed checkpoint note (atomic and durable). */
  write(note: string): Promise<void>;
}

/** The signer state in a file (replaced atomically: temporary file, fsync, rename, fsync of the directory). */
export class FileSignerState implements SignerState {
  constructor(readonly where: string) {}

  async read(): Promise<string | null> {
    try {
      return await readFile(this.where, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Throws StorageUnavailableError when the file cannot be written for now (a full disk, no file descriptors). */
  async write(note: string): Promise<void> {
    try {
      await writeFileAtomic(this.where, note);
    } catch (e) {
      if (!isTransientIoError(e)) throw e;
      throw new StorageUnavailableError(
        `cannot write the signer state ${this.where}: ${(e as Error).message}`,
        1,
        {
          cause: e,
        },
      );
    }
  }
}

/** The signer state in memory, for tests: `failNext` makes the next write fail as a full disk would (StorageUnavailableError). */
export class MemorySignerState implements SignerState {
  readonly where = 'memory';
  failNext = false;
  writes = 0;
  constructor(private note: string | null = null) {}

  async read(): Promise<string | null> {
    return this.note;
  }

  async write(note: string): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new StorageUnavailableError('injected signer state write failure (as a full disk)');
    }
    this.note = note;
    this.writes++;
  }
}
