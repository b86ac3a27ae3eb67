/**
 * The log's side of C2SP tlog-witness v1.0.0: it offers each new checkpoint
 * to every witness of its policy (c2sp.org/tlog-policy) and collects their
 * cosignatures, never holding up the write path (`offer` returns at once).
 *
 * Per witness, one request at a time, always for the newest checkpoint:
 * `old` is the size the witness last acknowledged (0 until it says; its 409
 * `text/x.tlog.size` answer names the size it holds, and the request is
 * sent again from there at once), with the consistency proof from that size
 * computed from the log's own tiles. A witness that refuses (403 for a log
 * it does not know, 404, 422), overloads (429), fails or times out is
 * retried with exponential backoff. Each cosignature is verified with the
 * witness's key over the checkpoint before it is kept.
 */
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import type { Hash } from '../../ledger/hash.js';
import { equalBytes } from '../../ledger/bytes.js';
import { formatSignatureLine, openNote, parseNote } from '../../ledger/note.js';
import { quorumSatisfied, verifyCheckpointPolicy, type Policy, type PolicyKey } from '../../ledger/policy.js';
import { formatAddCheckpoint } from '../../ledger/witness.js';
import { errorText, type Logger } from '../log.js';

export interface CollectorOptions {
  policy: Policy;
  /** The consistency proof from `from` to `to` (the size of an offered checkpoint), from authenticated tiles. */
  prove(from: number, to: number): Promise<Hash[]>;
  log: Logger;
  /** Time limit of one request (default 5 s). */
  timeoutMs?: number;
  /** First and longest retry delay after a failure (default 250 ms and 30 s). */
  backoffMs?: { first: number; max: number };
  fetch?: typeof fetch;
  /** Called when a newer checkpoint makes the quorum (to keep it, or pass it on); must not throw. */
  onQuorum?: (cosigned: Cosigned) => void;
}

/** A checkpoint and the cosignatures collected for it so far. */
export interface Cosigned {
  size: number;
  /** The log's note with every cosignature line collected, in policy order. */
  note: string;
  /** Policy names of the witnesses that cosigned it. */
  witnesses: string[];
  quorum: boolean;
}

interface WitnessState {
  name: string;
  key: PolicyKey;
  /** The size this witness holds, as far as the log knows (null: not known yet). */
  acked: number | null;
  busy: boolean;
  failures: number;
  timer: ReturnType<typeof setTimeout> | null;
}

interface Offered {
  size: number;
  note: string;
  text: string;
  /** Cosignature line by witness name. */
  lines: Map<string, string>;
}

export class CosignatureCollector {
  /** The witnesses asked (those with a URL). */
  readonly #witnesses: WitnessState[];
  /** Every witness of the policy, in policy order. */
  readonly #names: string[];
  #newest: Offered | null = null;
  #quorum: Offered | null = null;
  #closed = false;
  readonly #fetch: typeof fetch;

  constructor(private readonly opts: CollectorOptions) {
    this.#fetch = opts.fetch ?? fetch;
    this.#witnesses = [...opts.policy.witnesses].flatMap(([name, key]) =>
      key.url === null ? [] : [{ name, key, acked: null, busy: false, failures: 0, timer: null }],
    );
    this.#names = [...opts.policy.witnesses.keys()];
  }

  /** Names of the policy's witnesses that have a URL (the ones asked). */
  get asked(): string[] {
    return this.#witnesses.map((w) => w.name);
  }

  /** Offers the log's newest signed checkpoint; the witnesses are asked in the background. */
  offer(note: string): void {
    if (this.#closed) return;
    const text = parseNote(note).text;
    const size = parseCheckpoint(text).size;
    if (this.#newest && size <= this.#newest.size) return;
    this.#newest = { size, note, text, lines: new Map() };
    if (quorumSatisfied(this.opts.policy, new Set())) this.#quorum = this.#newest; // quorum none
    for (const w of this.#witnesses) void this.#pump(w);
  }

  /**
   * Takes a checkpoint with cosignatures from elsewhere (the leader, over
   * NATS; the copy kept on disk, at start): kept when it verifies under the
   * policy with this log's key, its cosignatures merged with those of the
   * same checkpoint held. The witnesses are not asked. Returns whether it
   * was kept.
   */
  absorb(note: string, origin: string): boolean {
    let verdict;
    try {
      verdict = verifyCheckpointPolicy(note, this.opts.policy);
    } catch {
      return false;
    }
    if (verdict.checkpoint.origin !== origin) return false;
    const { text, signatures } = parseNote(note);
    const keyOf = (n: string) => this.opts.policy.witnesses.get(n)!.verifier;
    const isWitness = (sig: { name: string; keyId: Uint8Array }) =>
      this.#names.some((n) => keyOf(n).name === sig.name && equalBytes(keyOf(n).keyId, sig.keyId));
    const base =
      text +
      '\n' +
      signatures
        .filter((sig) => !isWitness(sig))
        .map(formatSignatureLine)
        .join('');
    let held = [this.#newest, this.#quorum].find((o) => o?.text === text) ?? null;
    if (!held) {
      held = { size: verdict.checkpoint.size, note: base, text, lines: new Map() };
      if (!this.#newest || held.size > this.#newest.size) this.#newest = held;
    }
    for (const name of verdict.cosigned) {
      const sig = signatures.find(
        (x) => x.name === keyOf(name).name && equalBytes(x.keyId, keyOf(name).keyId),
      )!;
      if (!held.lines.has(name)) held.lines.set(name, formatSignatureLine(sig));
    }
    this.#noteQuorum(held);
    return true;
  }

  /** The newest checkpoint offered, with the cosignatures collected for it so far. */
  newest(): Cosigned | null {
    return this.#newest && this.#view(this.#newest);
  }

  /** The newest checkpoint whose cosignatures make the policy's quorum. */
  latestQuorum(): Cosigned | null {
    return this.#quorum && this.#view(this.#quorum);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#witnesses) if (w.timer) clearTimeout(w.timer);
  }

  #view(o: Offered): Cosigned {
    const witnesses = this.#names.filter((n) => o.lines.has(n));
    return {
      size: o.size,
      note: o.note + witnesses.map((n) => o.lines.get(n)!).join(''),
      witnesses,
      quorum: quorumSatisfied(this.opts.policy, new Set(witnesses)),
    };
  }

  async #pump(w: WitnessState): Promise<void> {
    if (w.busy || w.timer || this.#closed) return;
    const offered = this.#newest;
    if (!offered || offered.lines.has(w.name)) return;
    // The witness holds a larger tree than this checkpoint (it heard of a newer one first): it cannot cosign
    // this one; it gets the next one offered.
    if (w.acked !== null && w.acked > offered.size) return;
    w.busy = true;
    let retryIn = 0;
    try {
      const from = w.acked ?? 0;
      const proof = from === 0 || from === offered.size ? [] : await this.opts.prove(from, offered.size);
      const res = await this.#fetch(new URL('add-checkpoint', withSlash(w.key.url!)), {
        method: 'POST',
        body: formatAddCheckpoint({ oldSize: from, proof, checkpoint: offered.note }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      });
      const body = await res.text();
      if (res.status === 200) {
        this.#accept(w, offered, body);
        w.acked = offered.size;
        w.failures = 0;
      } else if (res.status === 409 && /^text\/x\.tlog\.size/.test(res.headers.get('content-type') ?? '')) {
        const held = /^(0|[1-9][0-9]*)\n$/.exec(body);
        if (!held) throw new Error(`409 with a malformed size: ${JSON.stringify(body.slice(0, 40))}`);
        // Ask again from the size it holds, unless that is where we just asked from (it would loop).
        if (Number(held[1]) === from) throw new Error(`409 naming the size asked from (${from})`);
        w.acked = Number(held[1]);
      } else {
        throw new Error(`HTTP ${res.status}: ${body.slice(0, 200).trim()}`);
      }
    } catch (e) {
      w.failures++;
      const { first, max } = this.opts.backoffMs ?? { first: 250, max: 30_000 };
      retryIn = Math.min(max, first * 2 ** Math.min(w.failures - 1, 16));
      if (w.failures === 1 || w.failures % 10 === 0)
        this.opts.log.warn(
          { witness: w.name, failures: w.failures, retryInMs: retryIn, err: errorText(e) },
          'witness did not cosign',
        );
    } finally {
      w.busy = false;
    }
    if (this.#closed) return;
    if (retryIn > 0) {
      w.timer = setTimeout(() => {
        w.timer = null;
        void this.#pump(w);
      }, retryIn);
      w.timer.unref?.();
    } else void this.#pump(w);
  }

  /** Keeps `w`'s cosignature lines for `offered` that verify with its key (others are ignored, as the spec says). */
  #accept(w: WitnessState, offered: Offered, body: string): void {
    const lines = body.split('\n').filter((l) => l !== '');
    const mine = lines.filter((line) => {
      try {
        return openNote(`${offered.text}\n${line}\n`, [w.key.verifier]).verified.length > 0;
      } catch {
        return false;
      }
    });
    if (mine.length === 0) throw new Error('200 without a cosignature that verifies with its key');
    offered.lines.set(w.name, mine.map((l) => l + '\n').join(''));
    this.#noteQuorum(offered);
  }

  /** Makes `o` the quorum checkpoint if its cosignatures make the quorum and it is not older. */
  #noteQuorum(o: Offered): void {
    const view = this.#view(o);
    if (!view.quorum || (this.#quorum && this.#quorum.size > o.size)) return;
    this.#quorum = o;
    this.opts.onQuorum?.(view);
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
