/**
 * Where the counter reads the log from. Either way the entries are replayed
 * by the replayer (verifier/replayer.ts) and checked against a checkpoint
 * signed by the log key: trust comes from the key, not from the source.
 *
 * - {@link httpSource}: any tlog-tiles source (the log, a mirror, a static
 *   copy), through the authenticated reader.
 * - {@link JournalSource}: a replicated log's JetStream journal and its
 *   checkpoint feed (services/journal/), as mirrors read them. A batch's
 *   root is checked against the entries replayed (the journal is not
 *   trusted for it), and entries are applied only up to the signed
 *   checkpoint; batches past it wait for the next one.
 */
import { openCheckpoint } from '../../ledger/checkpoint.js';
import type { NoteVerifier } from '../../ledger/note.js';
import { equalBytes } from '../../ledger/bytes.js';
import type { TreeHead } from '../../ledger/merkle.js';
import type { LogReader } from '../../verifier/reader.js';
import { ReplayError, type Replayer } from '../../verifier/replayer.js';
import type { CheckpointFeed } from '../journal/checkpoints.js';
import type { Journal } from '../journal/journal.js';
import type { JournalBatch } from '../node/replicator.js';

/** A source of the log's entries and signed checkpoints. */
export interface CountSource {
  /** What it is, for messages. */
  readonly name: string;
  /** The latest checkpoint, verified with the log key. */
  checkpoint(): Promise<{ note: string; head: TreeHead }>;
  /** Replays the entries from `replayer.size` up to `head` and checks its root. */
  catchUp(replayer: Replayer, head: TreeHead): Promise<void>;
}

/** A tlog-tiles source read through the authenticated reader. */
export function httpSource(reader: LogReader): CountSource {
  return {
    name: reader.client.baseUrl,
    async checkpoint() {
      const { note, head } = await reader.checkpoint();
      return { note, head };
    },
    async catchUp(replayer, head) {
      await replayer.catchUp(reader, head);
    },
  };
}

/** A replicated log's journal and checkpoint feed. */
export class JournalSource implements CountSource {
  readonly name: string;
  /** The next journal sequence to read. */
  #seq = 1;
  /** Batches read past the last checkpoint, applied once a checkpoint reaches them. */
  #pending: JournalBatch[] = [];

  constructor(
    private readonly journal: Journal,
    private readonly feed: CheckpointFeed,
    private readonly verifier: NoteVerifier,
  ) {
    this.name = `the journal ${journal.stream}`;
  }

  async checkpoint(): Promise<{ note: string; head: TreeHead }> {
    const note = await this.feed.latest();
    if (note === null) throw new ReplayError(0, `${this.name} has no signed checkpoint yet`);
    const { checkpoint } = openCheckpoint(note, this.verifier);
    return { note, head: { size: checkpoint.size, root: checkpoint.root } };
  }

  async catchUp(replayer: Replayer, head: TreeHead): Promise<void> {
    if (head.size < replayer.size)
      throw new ReplayError(
        head.size,
        `the checkpoint (size ${head.size}) is older than the entries replayed`,
      );
    while (replayer.size < head.size) {
      let batch = this.#pending.shift();
      if (!batch) {
        for await (const r of this.journal.readUntilEnd(this.#seq, {
          firstIndex: this.#nextIndex(replayer),
        })) {
          this.#seq = r.seq + 1;
          this.#pending.push(r.batch);
        }
        batch = this.#pending.shift();
        if (!batch)
          throw new ReplayError(
            replayer.size,
            `${this.name} ends at ${replayer.size} entries, below the signed checkpoint's ${head.size}`,
          );
      }
      if (batch.size > head.size) {
        this.#pending.unshift(batch); // past the checkpoint: the next round's
        break;
      }
      await replayer.append(batch.entries);
      if (!equalBytes(replayer.rootAt(batch.size), batch.root))
        throw new ReplayError(
          batch.firstIndex,
          `journal batch at ${batch.firstIndex}: its root is not the entries' root`,
        );
    }
    replayer.check(head);
  }

  /** The index the next batch read must start at. */
  #nextIndex(replayer: Replayer): number {
    return this.#pending.at(-1)?.size ?? replayer.size;
  }
}
