/**
 * An auditor of a running `urna serve` for the slow suites: a loader that
 * collects receipts until the server dies, and a check that the log still
 * holds every receipted entry at its index and is consistent with every
 * checkpoint ever seen, recomputed from the served tiles with the ledger core.
 */
import { expect } from 'vitest';
import { equalBytes, fromBase64, fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint, type Checkpoint } from '../../ledger/checkpoint.js';
import { storedHashIndex, treeHash, verifyConsistency } from '../../ledger/merkle.js';
import { openNote, parseVerifierKey } from '../../ledger/note.js';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { tilePath, tilesForSize, UnverifiedTileHashReader, type Tile } from '../../ledger/tile.js';
import type { ServerProcess } from './process.js';

/** An entry the log gave a receipt for. */
export interface Receipted {
  leafHash: string;
  index: number;
}

/** An answer to POST /add: a receipt (201, or 200 for a resubmission) or an error body. */
export interface PostAnswer {
  status: number;
  body: { index: number; leafHash: string; receipt: string };
}

/** POSTs one opaque entry (giving up after `timeoutMs` if given). */
export async function post(
  server: { url: string },
  entry: Uint8Array,
  timeoutMs?: number,
): Promise<PostAnswer> {
  const res = await fetch(`${server.url}/add`, {
    method: 'POST',
    body: Buffer.from(entry),
    headers: { 'content-type': 'application/octet-stream' },
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  return { status: res.status, body: (await res.json()) as PostAnswer['body'] };
}

/** If `answer` is a receipt, keeps its entry in `got` and its checkpoint in `seen`; says whether it was. */
export function keepReceipt(answer: PostAnswer, got: Receipted[], seen: Set<string>): boolean {
  if (answer.status !== 201 && answer.status !== 200) return false;
  got.push({ leafHash: answer.body.leafHash, index: answer.body.index });
  seen.add(parseReceipt(answer.body.receipt).checkpoint);
  return true;
}

/**
 * GETs `url`, up to three times more if the connection failed or timed out,
 * 200 ms apart. A kept-alive connection the server closes as the client
 * reuses it fails with "other side closed" (and the pool may hold several
 * such, idle since the load stopped, that the server closes together: the
 * pause lets their closes be read), and one the server timed out answers
 * 408 (the client MAY repeat the request, RFC 9110 §15.5.9); both were seen
 * on a loaded machine. LogClient and browsers repeat such requests too.
 */
export async function get(url: string): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url);
      if (res.status !== 408 || attempt === 3) return res;
      await res.body?.cancel();
    } catch (e) {
      if (!(e instanceof TypeError) || attempt === 3) throw e; // TypeError: fetch's network failure
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The server's current signed checkpoint note. */
export async function checkpointOf(server: ServerProcess): Promise<string> {
  return (await get(`${server.url}/checkpoint`)).text();
}

/** Submits entries with 16 clients until the server dies, `maxMs` passes, or (with `until`) that many are receipted. */
export async function load(
  server: ServerProcess,
  tag: string,
  maxMs: number,
  got: Receipted[],
  seen: Set<string>,
  opts: { until?: number } = {},
) {
  const deadline = Date.now() + maxMs;
  let n = 0;
  let dead = false;
  const client = async (c: number) => {
    while (!dead && Date.now() < deadline && (opts.until === undefined || got.length < opts.until)) {
      try {
        keepReceipt(await post(server, utf8(`${tag} client ${c} entry ${n++}`)), got, seen);
      } catch {
        dead = true; // connection refused or reset: the server was killed
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
}

/**
 * The log served by `server` is consistent with every checkpoint in `seen`
 * (no two roots at one size, a consistency proof to the current one), its
 * tiles hash to the signed root, every receipted entry is at its index, and
 * the log's receipts for a sample verify.
 */
export async function checkLog(server: ServerProcess, receipted: Receipted[], seen: Set<string>) {
  const verifier = parseVerifierKey(server.verifierKey);
  const note = await checkpointOf(server);
  const now = parseCheckpoint(openNote(note, [verifier]).text);
  const bySize = new Map<number, Checkpoint>();
  for (const s of seen) {
    const c = parseCheckpoint(openNote(s, [verifier]).text);
    const other = bySize.get(c.size);
    if (other) expect(equalBytes(other.root, c.root), `two roots at size ${c.size}`).toBe(true);
    bySize.set(c.size, c);
  }
  for (const old of bySize.values()) {
    expect(old.size).toBeLessThanOrEqual(now.size);
    if (old.size === 0) continue;
    const res = await get(`${server.url}/proof/consistency?from=${old.size}&to=${now.size}`);
    const { proof } = (await res.json()) as { proof: string[] };
    verifyConsistency(old.size, now.size, old.root, now.root, proof.map(fromBase64));
  }
  const tiles = new Map<string, Uint8Array>();
  await Promise.all(
    tilesForSize(now.size).map(async (t) => {
      const res = await get(`${server.url}/${tilePath(t)}`);
      expect(res.status).toBe(200);
      tiles.set(tilePath(t), new Uint8Array(await res.arrayBuffer()));
    }),
  );
  const reader = new UnverifiedTileHashReader(now.size, (ts: Tile[]) =>
    ts.map((t) => tiles.get(tilePath(t))!),
  );
  expect(toHex(treeHash(now.size, reader))).toBe(toHex(now.root));
  const leaves = reader.readHashes(receipted.map((r) => storedHashIndex(0, r.index)));
  receipted.forEach((r, i) => expect(toHex(leaves[i]!), `receipted entry ${r.index}`).toBe(r.leafHash));
  for (const r of receipted.slice(-50)) {
    const res = await get(`${server.url}/receipt/${r.leafHash}`);
    expect(res.status, `receipted entry ${r.index} missing`).toBe(200);
    const text = await res.text();
    expect(parseReceipt(text).index).toBe(r.index);
    verifyReceipt(text, { leafHash: fromHex(r.leafHash) }, verifier);
  }
  return { note, checkpoint: now };
}

/** One answer to a submission made by `loadFollowingLeader` (status 0: no answer, a connection error or timeout). */
export interface LoadAnswer {
  /** The sequencer asked. */
  url: string;
  status: number;
  /** The error code of a refusal (`not_leader`, `unavailable`, `pushback`, ...). */
  code?: string;
  /** The leader named by a `not_leader` refusal (body `error.leader`). */
  leader?: string;
  /** The `Urna-Leader` header of a refusal. */
  leaderHeader?: string;
  /** performance.now() when the request was sent. */
  sentAt: number;
  /** performance.now() when the answer (or the error) came. */
  at: number;
}

export interface FollowingLoad {
  /** Entries submitted so far (first attempts, not retries). */
  readonly submitted: number;
  /** Stops the clients and waits for their requests in flight (each bounded by the request timeout). */
  stop(): Promise<void>;
}

/**
 * Submits distinct opaque entries with `clients` clients (default 16) to
 * the sequencers of one replicated log until stopped, following the
 * leader the way a well-behaved client does: each client posts to the
 * sequencer it believes leads (at first, client c to `sequencers()[c %
 * n]`); on 503 `not_leader` naming a leader it switches to that URL; on
 * a connection error, a timeout or a 503 without a leader it waits a short
 * random backoff and tries another sequencer; on 503 `pushback` it backs
 * off and retries the same one. An entry without an answer (connection
 * error, 503) is resubmitted as is, so an entry the dead leader sequenced
 * but never answered comes back as a duplicate (200) with its index. Other
 * answers (4xx, 500) move on to the next entry; `onAnswer` sees them all.
 *
 * `sequencers()` is read at every switch, so the list may change while the
 * load runs (a restarted node listens on a new port). Every receipt (201 or
 * 200) goes to `got`, its checkpoint to `seen`.
 */
export function loadFollowingLeader(opts: {
  sequencers: () => string[];
  tag: string;
  got: Receipted[];
  seen: Set<string>;
  onAnswer?: (answer: LoadAnswer) => void;
  clients?: number;
  /** Bound on one request (default 30 s). */
  requestTimeoutMs?: number;
}): FollowingLoad {
  const { tag, got, seen } = opts;
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  let stopped = false;
  let submitted = 0;
  const wake = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        wake.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      wake.add(done);
    });
  const another = (not: string): string => {
    const urls = opts.sequencers();
    const others = urls.filter((u) => u !== not);
    const pick = others.length ? others : urls;
    return pick[Math.floor(Math.random() * pick.length)] ?? not;
  };
  const client = async (c: number) => {
    const initial = opts.sequencers();
    let target = initial[c % initial.length]!;
    let n = 0;
    let entry = utf8(`${tag} client ${c} entry ${n++}`);
    submitted++;
    const next = () => {
      entry = utf8(`${tag} client ${c} entry ${n++}`);
      submitted++;
    };
    while (!stopped) {
      let res: Response;
      let body: {
        index?: number;
        leafHash?: string;
        receipt?: string;
        error?: { code?: string; leader?: string };
      };
      const sentAt = performance.now();
      try {
        res = await fetch(`${target}/add`, {
          method: 'POST',
          body: Buffer.from(entry),
          headers: { 'content-type': 'application/octet-stream' },
          signal: AbortSignal.timeout(timeoutMs),
        });
        body = (await res.json()) as typeof body;
      } catch {
        opts.onAnswer?.({ url: target, status: 0, sentAt, at: performance.now() });
        await pause(50 + Math.random() * 100);
        target = another(target);
        continue;
      }
      const answer: LoadAnswer = { url: target, status: res.status, sentAt, at: performance.now() };
      if (body.error?.code !== undefined) answer.code = body.error.code;
      if (body.error?.leader !== undefined) answer.leader = body.error.leader;
      const header = res.headers.get('urna-leader');
      if (header !== null) answer.leaderHeader = header;
      opts.onAnswer?.(answer);
      if (res.status === 201 || res.status === 200) {
        got.push({ leafHash: body.leafHash!, index: body.index! });
        seen.add(parseReceipt(body.receipt!).checkpoint);
        next();
      } else if (res.status === 503 && answer.code === 'pushback') {
        await pause(50 + Math.random() * 100);
      } else if (
        res.status === 503 &&
        answer.code === 'not_leader' &&
        answer.leader &&
        answer.leader !== target
      ) {
        target = answer.leader;
      } else if (res.status === 503) {
        await pause(50 + Math.random() * 100);
        target = another(target);
      } else {
        next(); // refused for good: not retried (the test looks at onAnswer)
      }
    }
  };
  const running = Promise.all(Array.from({ length: opts.clients ?? 16 }, (_, c) => client(c)));
  return {
    get submitted() {
      return submitted;
    },
    async stop() {
      stopped = true;
      for (const w of [...wake]) w();
      await running;
    },
  };
}
