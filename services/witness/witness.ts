/**
 * A C2SP tlog-witness v1.0.0 witness (https://c2sp.org/tlog-witness): the
 * decision is the ledger's (ledger/witness.ts `decideAddCheckpoint`); this
 * makes it atomic and durable. Requests for one log are serialised (one
 * queue per origin): the check against the size held and the write of the
 * new one happen with no other request of that log in between, and the
 * cosignature is returned only after the write is synced — the race the spec
 * warns of (a smaller size written after a larger one) cannot happen, and a
 * crash between the write and the answer loses only an answer.
 */
import { toHex, utf8 } from '../../ledger/bytes.js';
import { hash } from '../../ledger/hash.js';
import type { NoteSigner, NoteVerifier } from '../../ledger/note.js';
import {
  cosignLine,
  decideAddCheckpoint,
  parseAddCheckpoint,
  WitnessRefusal,
  type WitnessedCheckpoint,
} from '../../ledger/witness.js';
import { MalformedError } from '../../ledger/errors.js';
import type { Logger } from '../log.js';
import type { WitnessStore } from './store.js';

export interface WitnessOptions {
  store: WitnessStore;
  /** The logs it witnesses: verifier keys (type 0x01), each named by its log's origin. */
  logs: readonly NoteVerifier[];
  /** Its cosigner key (type 0x04, urna keygen --witness). */
  cosigner: NoteSigner;
  log: Logger;
}

export class Witness {
  readonly #logs = new Map<string, NoteVerifier>();
  /** Origin by lower-case hex SHA-256 of the origin (the monitoring path). */
  readonly #byHash = new Map<string, string>();
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: WitnessOptions) {
    for (const v of opts.logs) {
      if (this.#logs.has(v.name)) throw new RangeError(`two keys for the log ${v.name}`);
      this.#logs.set(v.name, v);
      this.#byHash.set(toHex(hash(utf8(v.name))), v.name);
    }
  }

  /** The origins it witnesses. */
  get origins(): string[] {
    return [...this.#logs.keys()];
  }

  /**
   * Handles an add-checkpoint request body: the cosignature line(s) once the
   * new state is durable, or why not (a WitnessRefusal, also for a body the
   * spec does not allow: `malformed`).
   */
  async addCheckpoint(body: string): Promise<{ cosignature: string } | WitnessRefusal> {
    let req;
    try {
      req = parseAddCheckpoint(body);
    } catch (e) {
      if (e instanceof MalformedError) return new WitnessRefusal('malformed', e.message);
      throw e;
    }
    const origin = originOf(req.checkpoint);
    if (origin === null || !this.#logs.has(origin))
      return decideAddCheckpoint(
        req,
        (o) => this.#logs.get(o),
        () => null,
      ) as WitnessRefusal;
    return this.#serial(origin, async () => {
      const held = await this.opts.store.get(origin);
      const decision = decideAddCheckpoint(
        req,
        (o) => this.#logs.get(o),
        () => held as WitnessedCheckpoint | null,
      );
      if (decision instanceof WitnessRefusal) {
        // Signed by the log, yet not consistent with what it cosigned: possible evidence of a fork.
        if (decision.code === 'bad_proof' || decision.code === 'root_mismatch')
          this.opts.log.warn(
            {
              origin,
              code: decision.code,
              held: held?.size ?? 0,
              checkpoint: req.checkpoint,
              oldSize: req.oldSize,
            },
            'refused a checkpoint signed by the log that is not consistent with the one cosigned',
          );
        return decision;
      }
      const cosignature = cosignLine(decision.text, this.opts.cosigner);
      await this.opts.store.put(origin, { ...decision.next, note: req.checkpoint + cosignature });
      return { cosignature };
    });
  }

  /** The latest checkpoint cosigned for the log whose origin hashes to `originHash`, with its cosignature; null if none. */
  async latest(originHash: string): Promise<string | null> {
    const origin = this.#byHash.get(originHash);
    if (origin === undefined) return null;
    return (await this.opts.store.get(origin))?.note ?? null;
  }

  /** Runs `fn` after every earlier task of `origin` has finished. */
  #serial<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(origin) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.catch(() => {});
    this.#queues.set(origin, settled);
    void settled.then(() => {
      if (this.#queues.get(origin) === settled) this.#queues.delete(origin);
    });
    return run;
  }
}

/** The first line of a note, if it has one. */
function originOf(note: string): string | null {
  const nl = note.indexOf('\n');
  return nl > 0 ? note.slice(0, nl) : null;
}
