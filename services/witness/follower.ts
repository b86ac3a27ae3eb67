/**
 * A witness that follows logs over NATS (`urna witness --nats`): for each
 * log given with a URL, every checkpoint announced on `urna.<log>.checkpoint`
 * is brought to the witness as an add-checkpoint request from the size it
 * holds, with the consistency proof the witness computes itself from tiles
 * read through LogReader (from the log, a mirror or any copy of its tiles,
 * authenticated under the announced checkpoint). The witness's own checks
 * decide, as for any request; each cosignature is published on
 * `urna.<log>.cosig` as the checkpoint note with the cosignature line.
 */
import type { NatsConnection, Subscription } from 'nats';
import { fromUtf8, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { parseNote, type NoteVerifier } from '../../ledger/note.js';
import { formatAddCheckpoint, WitnessRefusal } from '../../ledger/witness.js';
import { LogReader } from '../../verifier/reader.js';
import { subjects } from '../journal/subjects.js';
import { errorText, type Logger } from '../log.js';
import type { WitnessStore } from './store.js';
import type { Witness } from './witness.js';

export interface FollowedLog {
  verifier: NoteVerifier;
  url: string;
  /** The log's verifier key text (for the reader). */
  verifierKey: string;
}

export class WitnessFollower {
  readonly #subs: Subscription[] = [];
  /** The newest note waiting per origin, and whether one is being handled. */
  readonly #pending = new Map<string, string>();
  readonly #busy = new Set<string>();

  constructor(
    private readonly opts: {
      nc: NatsConnection;
      witness: Witness;
      store: WitnessStore;
      logs: FollowedLog[];
      log: Logger;
      fetch?: typeof fetch;
    },
  ) {}

  start(): void {
    for (const l of this.opts.logs) {
      const reader = new LogReader(l.url, {
        logKey: l.verifierKey,
        http: { ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}), maxRetries: 2, timeoutMs: 10_000 },
      });
      const names = subjects(l.verifier.name);
      const sub = this.opts.nc.subscribe(names.checkpoint);
      this.#subs.push(sub);
      void (async () => {
        for await (const m of sub) {
          this.#pending.set(l.verifier.name, fromUtf8(m.data));
          void this.#drain(l, reader, names.cosig);
        }
      })();
    }
  }

  /** Handles the newest pending note of `l`, one at a time (older ones are superseded). */
  async #drain(l: FollowedLog, reader: LogReader, cosigSubject: string): Promise<void> {
    const origin = l.verifier.name;
    if (this.#busy.has(origin)) return;
    this.#busy.add(origin);
    try {
      for (let note = this.#pending.get(origin); note !== undefined; note = this.#pending.get(origin)) {
        this.#pending.delete(origin);
        await this.#witness(note, reader, cosigSubject).catch((e: unknown) =>
          this.opts.log.warn({ origin, err: errorText(e) }, 'witness: could not follow a checkpoint'),
        );
      }
    } finally {
      this.#busy.delete(origin);
    }
  }

  async #witness(note: string, reader: LogReader, cosigSubject: string): Promise<void> {
    const checkpoint = parseCheckpoint(parseNote(note).text);
    const held = await this.opts.store.get(checkpoint.origin);
    const from = held?.size ?? 0;
    if (from > checkpoint.size) return; // older than what it cosigned
    const head = { size: checkpoint.size, root: checkpoint.root };
    const proof =
      from === 0 || from === checkpoint.size
        ? []
        : await reader.consistencyProof(from, checkpoint.size, head);
    const result = await this.opts.witness.addCheckpoint(
      formatAddCheckpoint({ oldSize: from, proof, checkpoint: note }),
    );
    if (result instanceof WitnessRefusal) {
      // size_mismatch: a request over HTTP moved it meanwhile; the next checkpoint catches up.
      if (result.code !== 'size_mismatch')
        this.opts.log.warn(
          { origin: checkpoint.origin, code: result.code, why: result.message },
          'witness: refused',
        );
      return;
    }
    if (!this.opts.nc.isClosed()) this.opts.nc.publish(cosigSubject, utf8(note + result.cosignature));
  }

  stop(): void {
    for (const s of this.#subs) s.unsubscribe();
  }
}
