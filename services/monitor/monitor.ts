/**
 * `urna monitor`: follows a log's checkpoints from every source it is given
 * and raises an alarm, with self-proving evidence, on any split view.
 *
 * Each round (every `intervalMs`) it reads `GET /checkpoint` of every
 * source (the log, mirrors, caches or static copies of the tiles, a
 * witness's `/<hash>/checkpoint` prefix) and `GET /gossip` of every peer
 * monitor, and takes what arrives on NATS (`urna.<log>.checkpoint`,
 * `.cosig` and `.gossip`) as it comes. Every note goes through one
 * CheckpointWatcher (verifier/monitor.ts): verified with the log key, and
 * checked against the largest seen from tiles authenticated under the
 * larger checkpoint, read through the sources' LogReaders. What it saw is
 * gossiped (`GET /gossip`, `urna.<log>.gossip`). An alarm is written to the
 * data dir, published on `urna.<log>.alarm`, logged, and shown on
 * `GET /status`; `--once` exits 1 on one.
 *
 * With a witness policy it also reports whether the largest checkpoint, as
 * served with its cosignatures, makes the quorum, and how old the newest
 * quorum cosignature is (stale beyond `maxAgeMs`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection, Subscription } from 'nats';
import { equalBytes, fromUtf8, toBase64, utf8 } from '../../ledger/bytes.js';
import { parseCosignature } from '../../ledger/cosignature.js';
import { parseNote } from '../../ledger/note.js';
import { verifyCheckpointPolicy, type Policy } from '../../ledger/policy.js';
import { formatAlarm, parseAlarm, verifySplitView } from '../../ledger/alarm.js';
import { CheckpointWatcher, type Observation } from '../../verifier/monitor.js';
import { LogReader } from '../../verifier/reader.js';
import { subjects } from '../journal/subjects.js';
import { errorText, type Logger } from '../log.js';

export interface MonitorOptions {
  logKey: string;
  /** tlog-tiles sources (URL prefixes). */
  sources: string[];
  /** Other monitors (URL prefixes serving /gossip). */
  peers: string[];
  policy?: Policy;
  nats?: NatsConnection;
  dataDir?: string;
  intervalMs: number;
  /** A quorum cosignature older than this makes the log stale (default 1 h). */
  maxAgeMs?: number;
  log: Logger;
  fetch?: typeof fetch;
  now?: () => number;
}

/** An alarm raised: its evidence (the alarm file's text) and where it was written. */
export interface RaisedAlarm {
  at: string;
  text: string;
  file: string | null;
}

export interface MonitorStatus {
  origin: string;
  largest: { size: number; root: string; seen: string } | null;
  quorum: {
    witnesses: string[];
    satisfied: boolean;
    newestCosignatureAgeMs: number | null;
    stale: boolean;
  } | null;
  unchecked: string[];
  alarms: RaisedAlarm[];
  rounds: number;
}

export class Monitor {
  readonly watcher: CheckpointWatcher;
  readonly #readers: LogReader[];
  readonly #fetch: typeof fetch;
  readonly #alarms: RaisedAlarm[] = [];
  readonly #seenText = new Set<string>();
  /** The notes to gossip: the largest consistent one, and both sides of every alarm. */
  readonly #gossip = new Set<string>();
  #largestServed: string | null = null;
  #unchecked: string[] = [];
  /** Notes it could not check against the largest (no source serves the tree needed), newest last. */
  #uncheckedNotes: string[] = [];
  #rounds = 0;
  #subs: Subscription[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Serialises observations: one watcher, one note at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: MonitorOptions) {
    this.watcher = new CheckpointWatcher(opts.logKey);
    this.#fetch = opts.fetch ?? fetch;
    this.#readers = opts.sources.map(
      (url) =>
        new LogReader(url, {
          logKey: opts.logKey,
          http: { fetch: this.#fetch, maxRetries: 1, timeoutMs: 10_000 },
        }),
    );
  }

  get origin(): string {
    return this.watcher.verifier.name;
  }

  /** Alarms raised so far. */
  get alarms(): readonly RaisedAlarm[] {
    return this.#alarms;
  }

  /** Subscribes to NATS (if given) and polls every interval until closed. */
  start(): void {
    const nc = this.opts.nats;
    if (nc) {
      const names = subjects(this.origin);
      for (const [subject, what] of [
        [names.checkpoint, 'nats checkpoint'],
        [names.gossip, 'nats gossip'],
        [names.cosig, 'nats cosig'],
      ] as const) {
        const sub = nc.subscribe(subject);
        this.#subs.push(sub);
        void (async () => {
          for await (const m of sub) void this.offer(fromUtf8(m.data), what).catch(() => {});
        })();
      }
      const alarms = nc.subscribe(names.alarm);
      this.#subs.push(alarms);
      void (async () => {
        for await (const m of alarms) void this.adoptAlarm(fromUtf8(m.data), 'nats alarm').catch(() => {});
      })();
    }
    const tick = async () => {
      await this.round().catch((e: unknown) =>
        this.opts.log.warn({ err: errorText(e) }, 'monitor round failed'),
      );
      if (!this.#closed) this.#timer = setTimeout(() => void tick(), this.opts.intervalMs);
    };
    void tick();
  }

  /** One round: every source's checkpoint and every peer's gossip. */
  async round(): Promise<void> {
    const polls = [
      ...this.opts.sources.map(async (url) => {
        const res = await this.#fetch(new URL('checkpoint', slash(url)), {
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        await this.offer(await res.text(), url);
      }),
      ...this.opts.peers.map(async (url) => {
        const res = await this.#fetch(new URL('gossip', slash(url)), { signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const { notes, alarms } = (await res.json()) as { notes: string[]; alarms?: string[] };
        for (const note of notes.slice(0, 64)) await this.offer(note, `peer ${url}`);
        for (const text of (alarms ?? []).slice(0, 16)) await this.adoptAlarm(text, `peer ${url}`);
      }),
    ];
    const results = await Promise.allSettled(polls);
    results.forEach((r, i) => {
      if (r.status === 'rejected')
        this.opts.log.warn(
          { source: [...this.opts.sources, ...this.opts.peers][i], err: errorText(r.reason) },
          'monitor: a source did not answer',
        );
    });
    this.#rounds++;
    // Gossip again each round, for monitors that joined since: the largest, what it could not check, and every
    // alarm's evidence.
    if (this.watcher.largest) this.#publish('gossip', this.watcher.largest.note);
    for (const n of this.#uncheckedNotes) this.#publish('gossip', n);
    for (const a of this.#alarms) this.#publish('alarm', a.text);
  }

  /** Checks one note seen at `seen`; notes the log key did not sign are ignored (logged). */
  offer(note: string, seen: string): Promise<Observation | null> {
    const run = this.#queue.then(() => this.#observe(note, seen));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #observe(note: string, seen: string): Promise<Observation | null> {
    let o: Observation;
    try {
      o = await this.watcher.observe(note, seen, this.#readers);
    } catch (e) {
      this.opts.log.warn(
        { seen, err: errorText(e) },
        'monitor: a checkpoint that does not verify with the log key',
      );
      return null;
    }
    if (o.kind === 'newer') {
      this.#gossip.clear();
      for (const a of this.#alarms) for (const n of parseAlarmNotes(a.text)) this.#gossip.add(n);
      this.#gossip.add(note);
      this.#largestServed = note;
      this.#unchecked = [];
      this.#publish('gossip', note);
    } else if (
      o.kind === 'known' &&
      this.watcher.largest?.note &&
      sameText(note, this.watcher.largest.note)
    ) {
      // The same checkpoint with more cosignatures: keep the richer copy for the quorum check.
      if (countSignatures(note) > countSignatures(this.#largestServed ?? '')) this.#largestServed = note;
    } else if (o.kind === 'unchecked') {
      if (!this.#unchecked.includes(o.why)) this.#unchecked.push(o.why);
      // Gossiped too: a peer that can read the other tree's tiles can check it (and prove a fork).
      this.#uncheckedNotes = [...this.#uncheckedNotes.filter((n) => n !== note), note].slice(-16);
    } else if (o.kind === 'alarm') {
      await this.#raise(o.text, o.evidence.notes);
    }
    return o;
  }

  async #raise(text: string, notes: readonly string[], key = notes.join('\n')): Promise<void> {
    // One alarm per pair of notes, however many times and ways it arrives.
    const pair = [...notes].sort().join('\n');
    if (this.#seenText.has(pair) || this.#seenText.has(key)) return;
    this.#seenText.add(pair);
    const at = new Date((this.opts.now ?? Date.now)()).toISOString();
    let file: string | null = null;
    if (this.opts.dataDir) {
      await mkdir(this.opts.dataDir, { recursive: true });
      file = join(this.opts.dataDir, `alarm-${at.replace(/[:.]/g, '-')}-${this.#alarms.length}.json`);
      await writeFile(file, text);
    }
    this.#alarms.push({ at, text, file });
    for (const n of notes) this.#gossip.add(n);
    this.opts.log.error(
      { origin: this.origin, file, evidence: JSON.parse(text) },
      'SPLIT VIEW: the log signed two inconsistent trees',
    );
    this.#publish('alarm', text);
  }

  #publish(what: 'gossip' | 'alarm', text: string): void {
    const nc = this.opts.nats;
    if (!nc || nc.isClosed()) return;
    try {
      nc.publish(subjects(this.origin)[what], utf8(text));
    } catch {
      // a closed connection: the alarm is written and shown; nothing to undo
    }
  }

  /**
   * Takes another monitor's alarm: raised here too if its evidence proves a
   * fork with the log key alone (a monitor that saw one side and could not
   * read the other's tiles learns of the fork this way); else ignored.
   */
  async adoptAlarm(text: string, seen: string): Promise<boolean> {
    try {
      const evidence = parseAlarm(text);
      verifySplitView(evidence, this.watcher.verifier);
      await this.#raise(
        formatAlarm({ ...evidence, seen: [evidence.seen[0], `${evidence.seen[1]} (via ${seen})`] }),
        evidence.notes,
        text,
      );
      return true;
    } catch (e) {
      this.opts.log.warn({ seen, err: errorText(e) }, 'monitor: an alarm whose evidence proves nothing');
      return false;
    }
  }

  /** What it gossips to peers (GET /gossip): the checkpoints it saw, and the evidence of its alarms. */
  gossip(): { notes: string[]; alarms: string[] } {
    return {
      notes: [...new Set([...this.#gossip, ...this.#uncheckedNotes])],
      alarms: this.#alarms.map((a) => a.text),
    };
  }

  status(): MonitorStatus {
    const largest = this.watcher.largest;
    let quorum: MonitorStatus['quorum'] = null;
    if (this.opts.policy && this.#largestServed) {
      try {
        const v = verifyCheckpointPolicy(this.#largestServed, this.opts.policy);
        const times = cosignatureTimes(this.#largestServed, this.opts.policy, v.cosigned);
        const newest = times.length ? Math.max(...times) * 1000 : null;
        const age = newest === null ? null : (this.opts.now ?? Date.now)() - newest;
        quorum = {
          witnesses: v.cosigned,
          satisfied: v.quorum,
          newestCosignatureAgeMs: age,
          stale: age === null || age > (this.opts.maxAgeMs ?? 3_600_000),
        };
      } catch (e) {
        this.opts.log.warn(
          { err: errorText(e) },
          'monitor: the largest checkpoint does not verify under the policy',
        );
      }
    }
    return {
      origin: this.origin,
      largest: largest && {
        size: largest.checkpoint.size,
        root: toBase64(largest.checkpoint.root),
        seen: largest.seen,
      },
      quorum,
      unchecked: this.#unchecked,
      alarms: this.#alarms,
      rounds: this.#rounds,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const s of this.#subs) s.unsubscribe();
    await this.#queue;
  }
}

function slash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function sameText(a: string, b: string): boolean {
  try {
    return parseNote(a).text === parseNote(b).text;
  } catch {
    return false;
  }
}

function countSignatures(note: string): number {
  try {
    return parseNote(note).signatures.length;
  } catch {
    return 0;
  }
}

function parseAlarmNotes(text: string): string[] {
  return (JSON.parse(text) as { notes: string[] }).notes;
}

/** The timestamps (POSIX seconds) of the cosignatures of `cosigned` (policy names) on `note`. */
function cosignatureTimes(note: string, policy: Policy, cosigned: readonly string[]): number[] {
  const { signatures } = parseNote(note);
  const out: number[] = [];
  for (const name of cosigned) {
    const v = policy.witnesses.get(name)!.verifier;
    const sig = signatures.find((s) => s.name === v.name && equalBytes(s.keyId, v.keyId));
    if (sig) out.push(parseCosignature(sig).timestamp);
  }
  return out;
}
