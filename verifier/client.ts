/**
 * A small client of one log's HTTP API (DESIGN.md "Parts and data flow"):
 * submit records (`POST /add`) and read the checkpoint and the election
 * projections. Browser-safe: only ledger/ and the global `fetch`.
 *
 * Submissions are idempotent at the log (resubmitting identical bytes gives
 * the same index), so a submission is retried on pushback (503 with
 * `Retry-After`, or 429) and on network failures, a bounded number of times;
 * a standby's 503 `not_leader` with an `Urna-Leader` URL sends it (and later
 * submissions) to the leader.
 * Every other error is thrown at once as a {@link LogError} carrying the
 * log's `{"error":{"code","message"}}` and the HTTP status.
 */
import { toHex } from '../ledger/bytes.js';
import { openCheckpoint, parseCheckpoint, type Checkpoint } from '../ledger/checkpoint.js';
import { verifiedAhead } from '../ledger/ed25519.js';
import { UrnaError } from '../ledger/errors.js';
import { HASH_SIZE, leafHash } from '../ledger/hash.js';
import { ENTRIES_LEVEL, entryBundlePrefix, TILE_WIDTH, tilePath, type Tile } from '../ledger/tile.js';
import { parseNote, parseVerifierKey, type NoteVerifier } from '../ledger/note.js';
import { verifyReceipt } from '../ledger/receipt.js';
import type { Record as LogRecord } from '../ledger/record.js';
import type { BallotStatus, ElectionSummary, LogState } from '../ledger/rules.js';

/** The log's answer to `POST /add`. */
export type SubmitAnswer = {
  /** Index of the record in the log. */
  index: number;
  /** Lower-case hex RFC 9162 leaf hash (the ballot tracker). */
  leafHash: string;
  /** The C2SP tlog-proof receipt text. */
  receipt: string;
  /** Whether the log already held these exact bytes (then `index` is the earlier one). */
  duplicate: boolean;
};

/** `GET /records/<index>`: an entry, decoded as a record when it is one, else as base64 bytes. */
export type RecordView = { index: number; leafHash: string; record?: LogRecord; entry?: string };

/** A verified or parsed checkpoint with its signed note text. */
export type CheckpointView = { note: string; checkpoint: Checkpoint };

/**
 * An error from the log or on the way to it. `code` is the log's error code
 * (`bad_signature`, `wrong_phase`, ...) or one of the client's own:
 * `network` (no HTTP answer; status 0), `pushback` (503/429 after every
 * retry), `bad_response` (an answer that is not what the API promises),
 * `bad_receipt` (the receipt does not prove the record at the log's key).
 */
export class LogError extends UrnaError {
  /** HTTP status, or 0 when there was no HTTP answer. */
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** Options of {@link LogClient}. */
export type LogClientOptions = {
  /** The log's verifier key text; when set, receipts and checkpoints are verified against it. */
  logKey?: string;
  /** Retries of one request on pushback or network failure (default 8). */
  maxRetries?: number;
  /** Longest wait between retries in milliseconds (default 30,000), whatever Retry-After says. */
  maxDelayMs?: number;
  /**
   * Time limit of one HTTP request in milliseconds (default: none beyond the
   * platform's; a timed-out submission is retried like a network failure).
   */
  timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Waits `ms` milliseconds (tests replace it). */
  sleep?: (ms: number) => Promise<void>;
};

/** Options of {@link LogClient.submitMany}. */
export type SubmitManyOptions = {
  /** Called after each record is admitted: the number admitted so far, and the total if known (an array). */
  onProgress?: (done: number, total: number | undefined) => void;
};

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A client of one log. */
export class LogClient {
  readonly baseUrl: string;
  readonly verifier: NoteVerifier | undefined;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #maxRetries: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number | undefined;
  /** Where submissions go: the log's URL, or the leader a standby pointed to (replicated logs). */
  #submitBase: string;

  /**
   * `baseUrl` is the log's URL (a path prefix is kept). Throws TypeError for
   * an invalid URL and MalformedError for an invalid `logKey`.
   */
  constructor(baseUrl: string, opts: LogClientOptions = {}) {
    const url = new URL(baseUrl);
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.baseUrl = url.href;
    this.verifier = opts.logKey === undefined ? undefined : parseVerifierKey(opts.logKey.trim());
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.#sleep = opts.sleep ?? defaultSleep;
    this.#maxRetries = opts.maxRetries ?? 8;
    this.#maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.#timeoutMs = opts.timeoutMs;
    this.#submitBase = this.baseUrl;
  }

  /**
   * Submits one record's exact bytes. Checks that the log's leaf hash is the
   * record's, and with a `logKey` verifies the receipt (log signature and
   * inclusion of these bytes at the returned index) before returning.
   * Throws LogError.
   */
  async submit(bytes: Uint8Array): Promise<SubmitAnswer> {
    const response = await this.#request('add', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    const body = (await this.#json(response)) as Partial<SubmitAnswer>;
    if (
      typeof body.index !== 'number' ||
      typeof body.leafHash !== 'string' ||
      typeof body.receipt !== 'string' ||
      typeof body.duplicate !== 'boolean'
    )
      throw new LogError('bad_response', response.status, 'POST /add: unexpected answer');
    const result = body as SubmitAnswer;
    const expected = toHex(leafHash(bytes));
    if (result.leafHash.toLowerCase() !== expected)
      throw new LogError(
        'bad_response',
        response.status,
        `POST /add: leaf hash ${result.leafHash} is not the record's ${expected}`,
      );
    if (this.verifier) {
      try {
        const { receipt } = verifyReceipt(result.receipt, { entry: bytes }, this.verifier);
        if (receipt.index !== result.index) throw new Error(`receipt index ${receipt.index}`);
      } catch (cause) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new LogError('bad_receipt', response.status, `receipt does not verify: ${why}`, { cause });
      }
    }
    return result;
  }

  /**
   * Submits `records` with at most `concurrency` requests in flight and
   * returns the results in the order of `records`. `records` may be any
   * iterable, drawn lazily as submissions start (a generator can sign
   * records while earlier ones are in flight). Stops drawing at the first
   * failure and throws it (a LogError whose message names the record's
   * position); submissions already in flight finish first.
   */
  async submitMany(
    records: Iterable<Uint8Array>,
    concurrency: number,
    opts: SubmitManyOptions = {},
  ): Promise<SubmitAnswer[]> {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new RangeError('submitMany: concurrency must be a positive integer');
    const total = Array.isArray(records) ? records.length : undefined;
    const iterator = records[Symbol.iterator]();
    const results: SubmitAnswer[] = [];
    let next = 0;
    let done = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined) {
        const i = next;
        let item: IteratorResult<Uint8Array>;
        try {
          item = iterator.next();
        } catch (error) {
          failure ??= { error };
          return;
        }
        if (item.done) return;
        next++;
        try {
          results[i] = await this.submit(item.value);
        } catch (e) {
          failure ??= {
            error:
              e instanceof LogError
                ? new LogError(e.code, e.status, `record ${i}: ${e.message}`, { cause: e })
                : e,
          };
          return;
        }
        done++;
        opts.onProgress?.(done, total);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (failure !== undefined) throw failure.error;
    return results;
  }

  /**
   * The log's latest checkpoint (`GET /checkpoint`), verified with the
   * `logKey` if one was given, else only parsed. Throws LogError, and the
   * ledger's errors for a checkpoint that does not parse or verify.
   */
  async checkpoint(): Promise<CheckpointView> {
    const note = await (await this.#request('checkpoint')).text();
    const verifier = this.verifier;
    const checkpoint = verifier
      ? (await verifiedAhead(() => openCheckpoint(note, verifier))).checkpoint
      : parseCheckpoint(parseNote(note).text);
    return { note, checkpoint };
  }

  /** `GET /elections/<id>`: the election's manifest (without districts), phase and counts. */
  async election(id: string): Promise<ElectionSummary> {
    return (await this.#json(await this.#request(`elections/${encodeURIComponent(id)}`))) as ElectionSummary;
  }

  /**
   * `GET /authorities`: what the log says it trusts (its origin, authorities,
   * the indexes of its log records, elections open). A claim of the server:
   * verifier/trust.ts checks it against the authenticated log records.
   */
  async authorities(): Promise<LogState> {
    return (await this.#json(await this.#request('authorities'))) as LogState;
  }

  /** `GET /ballots/<tracker>`: whether a ballot is included, superseded or overridden. */
  async ballot(tracker: string): Promise<BallotStatus> {
    return (await this.#json(await this.#request(`ballots/${encodeURIComponent(tracker)}`))) as BallotStatus;
  }

  /** `GET /records/<index>`: the entry at `index` with its leaf hash, decoded as a record (or base64 if it is none). */
  async record(index: number): Promise<RecordView> {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError('record: index must be a non-negative integer');
    return (await this.#json(await this.#request(`records/${index}`))) as RecordView;
  }

  /** `GET /receipt/<leaf hash hex>`: a fresh receipt for an entry in the log. */
  async receipt(leafHashHex: string): Promise<string> {
    return (await this.#request(`receipt/${encodeURIComponent(leafHashHex)}`)).text();
  }

  /**
   * A tile or entry bundle (C2SP tlog-tiles) at exactly its width. A
   * partial one the source no longer has (404) is cut from the full one
   * (C2SP/C2SP#145: a log may drop partial tiles once the full tile exists).
   * Not authenticated: check it against a signed tree before trusting it.
   * Throws LogError.
   */
  async tile(tile: Tile): Promise<Uint8Array> {
    try {
      return new Uint8Array(await (await this.#request(tilePath(tile))).arrayBuffer());
    } catch (e) {
      if (!(e instanceof LogError) || e.status !== 404 || tile.width === TILE_WIDTH) throw e;
    }
    const full = new Uint8Array(
      await (await this.#request(tilePath({ ...tile, width: TILE_WIDTH }))).arrayBuffer(),
    );
    if (tile.level !== ENTRIES_LEVEL && full.length >= tile.width * HASH_SIZE)
      return full.slice(0, tile.width * HASH_SIZE);
    try {
      if (tile.level === ENTRIES_LEVEL) return entryBundlePrefix(full, tile.width);
    } catch {
      // too short: below
    }
    throw new LogError('bad_response', 200, `${tilePath(tile)}: the full tile is too short for it`);
  }

  /** The URL of `path` under the log. */
  url(path: string): string {
    return new URL(path, this.baseUrl).href;
  }

  /**
   * One request with bounded retries on pushback (503, 429), network
   * failures and a connection timed out (408). Returns a 2xx response;
   * throws LogError for anything else.
   */
  async #request(path: string, init: RequestInit = {}): Promise<Response> {
    const submitting = init.method === 'POST';
    let url = submitting ? new URL(path, this.#submitBase).href : this.url(path);
    const what = `${init.method ?? 'GET'} /${path}`;
    let redirects = 0;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        // A signal per request costs (AbortSignal is transferable in Node): only when asked for.
        const signal = this.#timeoutMs === undefined ? null : AbortSignal.timeout(this.#timeoutMs);
        response = await this.#fetch(url, signal ? { ...init, signal } : init);
      } catch (cause) {
        if (attempt >= this.#maxRetries)
          throw new LogError('network', 0, `${what}: ${cause instanceof Error ? cause.message : cause}`, {
            cause,
          });
        await this.#sleep(this.#backoff(attempt, null));
        continue;
      }
      if (response.ok) return response;
      // A standby of a replicated log answers 503 not_leader naming the
      // leader: submit there, now and from then on (a few hops at most). The
      // receipt is checked against the log key whoever answers.
      const leader = submitting && response.status === 503 ? response.headers.get('Urna-Leader') : null;
      if (leader !== null && redirects < 3) {
        const base = leaderBase(leader);
        if (base !== null && new URL(path, base).href !== url) {
          redirects++;
          attempt--;
          this.#submitBase = base;
          url = new URL(path, base).href;
          await response.body?.cancel();
          continue;
        }
      }
      // 408: the server timed the connection out and closes it; the client
      // MAY repeat the request (RFC 9110 §15.5.9), as after a network failure.
      if (response.status === 408 && attempt < this.#maxRetries) {
        await response.body?.cancel();
        await this.#sleep(this.#backoff(attempt, null));
        continue;
      }
      if (response.status === 503 || response.status === 429) {
        const retryAfter = response.headers.get('Retry-After');
        if (attempt >= this.#maxRetries) {
          const e = await errorOf(response, what);
          throw new LogError('pushback', response.status, `${e.message} (after ${attempt + 1} attempts)`, {
            cause: e,
          });
        }
        await response.body?.cancel();
        await this.#sleep(this.#backoff(attempt, retryAfter));
        continue;
      }
      throw await errorOf(response, what);
    }
  }

  /** Milliseconds to wait before retry `attempt` (0-based): Retry-After if given, else exponential; jittered. */
  #backoff(attempt: number, retryAfter: string | null): number {
    let ms = Math.min(100 * 2 ** attempt, this.#maxDelayMs);
    if (retryAfter !== null) {
      const seconds = Number(retryAfter);
      const date = Date.parse(retryAfter);
      if (/^\d+$/.test(retryAfter.trim()) && Number.isFinite(seconds)) ms = seconds * 1000;
      else if (!Number.isNaN(date)) ms = date - Date.now();
    }
    ms = Math.max(0, Math.min(ms, this.#maxDelayMs));
    // Up to 25% jitter so that many clients pushed back together do not return together.
    return ms + Math.random() * 0.25 * Math.max(ms, 100);
  }

  async #json(response: Response): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new LogError('bad_response', response.status, `${response.url}: answer is not JSON`, { cause });
    }
  }
}

/** The LogError of a non-2xx answer: the log's `{"error":{"code","message"}}` if it sent one. */
async function errorOf(response: Response, what: string): Promise<LogError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    if (typeof code === 'string' && typeof message === 'string')
      return new LogError(code, response.status, `${what}: ${code}: ${message}`);
  } catch {
    // not JSON: fall through
  }
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new LogError(
    `http_${response.status}`,
    response.status,
    `${what}: HTTP ${response.status} ${snippet}`,
  );
}

/** The base URL (ending in `/`) of a leader named by `Urna-Leader`, or null if it is not an http(s) URL. */
function leaderBase(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}
