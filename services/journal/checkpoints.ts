/**
 * The checkpoint feed of one log: `urna.<log>.checkpoint` (DESIGN.md "NATS
 * subjects"). The leader publishes each checkpoint it signs there (core
 * NATS, `publishCheckpoint`); subscribers (mirrors, standbys, witnesses,
 * monitors) get it as it is signed. A JetStream stream on the subject keeps
 * the latest one (one message per subject), so a node that starts, or was
 * disconnected, reads the current checkpoint without waiting for the next.
 *
 * Nothing here is trusted: every checkpoint is a signed note that the reader
 * verifies against the log's key and against the tree it rebuilt.
 */
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import { fromUtf8 } from '../../ledger/bytes.js';
import { logToken, subjects } from './subjects.js';
import { apiErrCode, JS_ERR } from './jetstream.js';

/** The JetStream stream keeping the latest checkpoint of `origin`. */
export function checkpointStreamName(origin: string): string {
  return `urna_${logToken(origin)}_checkpoint`;
}

export class CheckpointFeed {
  readonly stream: string;
  readonly subject: string;

  private constructor(
    readonly origin: string,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {
    this.stream = checkpointStreamName(origin);
    this.subject = subjects(origin).checkpoint;
  }

  /**
   * Binds to the feed of `origin`, creating its stream if absent (file
   * storage, one message kept, `replicas` 1 or 3).
   */
  static async open(
    nc: NatsConnection,
    origin: string,
    opts: { replicas?: 1 | 3 } = {},
  ): Promise<CheckpointFeed> {
    const jsm = await nc.jetstreamManager();
    const stream = checkpointStreamName(origin);
    try {
      await jsm.streams.info(stream);
    } catch (e) {
      if (apiErrCode(e) !== JS_ERR.streamNotFound) throw e;
      try {
        await jsm.streams.add({
          name: stream,
          description: `Urna: the latest signed checkpoint of ${origin}`,
          subjects: [subjects(origin).checkpoint],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          num_replicas: opts.replicas ?? 1,
          max_msgs_per_subject: 1,
          discard: DiscardPolicy.Old,
        });
      } catch (e2) {
        await jsm.streams.info(stream).catch(() => Promise.reject(e2)); // created meanwhile
      }
    }
    return new CheckpointFeed(origin, nc, jsm);
  }

  /** The latest checkpoint kept by the stream, or null if none was published yet. */
  async latest(): Promise<string | null> {
    try {
      const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.subject });
      return fromUtf8(m.data);
    } catch (e) {
      if (apiErrCode(e) === JS_ERR.messageNotFound) return null;
      throw e;
    }
  }

  /** Calls `listener` with each checkpoint published from now on. Returns an unsubscribe function. */
  subscribe(listener: (note: string) => void): () => void {
    const sub = this.nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err) return;
        let note: string;
        try {
          note = fromUtf8(msg.data);
        } catch {
          return; // not UTF-8: not a note
        }
        listener(note);
      },
    });
    return () => sub.unsubscribe();
  }
}
