/**
 * Leader election of the sequencers of one log through a lease in NATS KV:
 * bucket `urna_<log>_lease`, one key, value `{"id":...,"url":...}` (the
 * holder's id and the HTTP URL submitters should be pointed to).
 *
 * How it works:
 * - The bucket has a TTL (the stream's `max_age`) and keeps one revision
 *   per key. The server removes a value `ttlMs` after it was written, by the
 *   server's clock; a holder keeps its value alive by rewriting it (`renew`)
 *   well within the TTL.
 * - Acquire is `create`: a put with `Nats-Expected-Last-Subject-Sequence: 0`,
 *   which the stream leader accepts only if the key has no value (never
 *   written, expired, or deleted). Renew is `update` with the revision the
 *   holder last wrote. Both are compare-and-swaps applied one at a time by
 *   the stream leader, so of any number of contenders exactly one succeeds,
 *   and after a takeover (or an expiry) the old holder's revision is no
 *   longer the last one: its next renew fails and it learns it lost.
 *
 * Why at most one holder believes it holds the lease at any time — and the
 * clock assumptions this rests on:
 * - A holder reads its local monotonic clock (t0) *before* sending an
 *   acquire/renew. The server stamps the value when it stores it, after t0,
 *   and removes it no earlier than stamp + TTL. So in real time the value
 *   outlives t0 + TTL, provided the server's clock does not run fast or jump
 *   forward by more than the margin, and that the servers' clocks agree
 *   within the margin (in a cluster, each replica expires values by its own
 *   clock; the stamp is the stream leader's).
 * - The holder believes it holds the lease only until t0 + TTL − margin
 *   (`held`), margin = TTL/5 by default, by its own monotonic clock (rate
 *   error only, no offset: NTP steps do not affect it). A process paused
 *   longer than that (GC, SIGSTOP, a VM migration) wakes up past its
 *   deadline, and `held` is false.
 * - Nobody else can create the key before the value is removed.
 * These are assumptions about clocks and pauses, not guarantees. The real
 * fence against split brain is the journal: every batch is appended with an
 * expected last sequence (journal.ts), so even two sequencers that both
 * believe they lead cannot both extend the log at one position; the loser
 * gets JournalConflictError and steps down. The lease makes that rare and
 * tells submitters where the leader is.
 */
import type { KV, KvEntry, NatsConnection } from 'nats';
import { fromUtf8, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import { leaseBucketName } from './subjects.js';
import { apiErrCode, JS_ERR } from './jetstream.js';

/** The key holding the lease in the bucket. */
export const LEASE_KEY = 'leader';

/** The current holder as stored in the lease. */
export interface LeaseHolder {
  id: string;
  /** Where the holder accepts submissions (its HTTP base URL), if it serves any. */
  url?: string;
}

export interface LeaseOptions {
  /** Lease lifetime on the server (the bucket's TTL). At least 500 ms. */
  ttlMs: number;
  /** This holder's HTTP URL, stored in the lease for standbys to point to. */
  url?: string;
  /** Bucket replicas: 1, or 3 on a cluster. Default 1. */
  replicas?: 1 | 3;
  /** Renewal period for `startRenewing`. Default ttlMs / 3. */
  renewEveryMs?: number;
  /** Part of the TTL the holder gives up for clock rate and pauses. Default ttlMs / 5. */
  marginMs?: number;
}

/** Why a lease was lost (passed to `onLost` listeners). */
export type LeaseLossReason =
  /** A renewal's compare-and-swap failed: the value expired or another holder took over. */
  | 'taken'
  /** The local deadline passed without a successful renewal (pause, slow or unreachable server). */
  | 'expired';

function isCasFailure(e: unknown): boolean {
  return apiErrCode(e) === JS_ERR.wrongLastSequence;
}

export class Lease {
  /** The KV bucket name (`urna_<log>_lease`). */
  readonly bucket: string;
  private value: Uint8Array;
  private readonly ttlMs: number;
  private readonly marginMs: number;
  private readonly renewEveryMs: number;
  /** Revision of the value we last wrote, 0 when not holding. */
  private revision = 0;
  /** performance.now() after which we no longer believe we hold the lease. */
  private validUntil = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<unknown> | null = null;
  private readonly listeners = new Set<(reason: LeaseLossReason) => void>();

  private constructor(
    readonly origin: string,
    readonly holderId: string,
    private readonly kv: KV,
    opts: LeaseOptions,
  ) {
    this.bucket = leaseBucketName(origin);
    const holder: LeaseHolder = opts.url === undefined ? { id: holderId } : { id: holderId, url: opts.url };
    this.value = utf8(JSON.stringify(holder));
    this.ttlMs = opts.ttlMs;
    this.marginMs = opts.marginMs ?? Math.ceil(opts.ttlMs / 5);
    this.renewEveryMs = opts.renewEveryMs ?? Math.floor(opts.ttlMs / 3);
  }

  /**
   * Creates the lease bucket for `origin` if absent (TTL `ttlMs`, history 1,
   * file storage) or binds to it. Never run two live processes with one
   * `holderId`: both would count as the holder. An id that is stable across
   * restarts (e.g. the host name) lets a restarted sequencer take its lease
   * back at once instead of after the TTL, which is safe only because its
   * previous incarnation is dead; an id with a random part is always safe.
   * Throws RangeError for a bad TTL, margin or
   * renewal period, or if the existing bucket's TTL differs from `ttlMs`
   * (holders must agree on it: the local deadline is computed from it).
   */
  static async open(
    nc: NatsConnection,
    origin: string,
    holderId: string,
    opts: LeaseOptions,
  ): Promise<Lease> {
    if (typeof holderId !== 'string' || holderId.length === 0)
      throw new TypeError('Lease.open: holderId must be a non-empty string');
    const { ttlMs } = opts;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 500)
      throw new RangeError('Lease.open: ttlMs must be an integer of at least 500');
    const margin = opts.marginMs ?? Math.ceil(ttlMs / 5);
    const every = opts.renewEveryMs ?? Math.floor(ttlMs / 3);
    if (!(margin >= 0 && margin < ttlMs)) throw new RangeError('Lease.open: marginMs must be in [0, ttlMs)');
    if (!(every > 0 && every < ttlMs - margin))
      throw new RangeError('Lease.open: renewEveryMs must be in (0, ttlMs - marginMs)');
    const bucket = leaseBucketName(origin);
    const kv = await nc.jetstream().views.kv(bucket, {
      ttl: ttlMs,
      history: 1,
      replicas: opts.replicas ?? 1,
    });
    const status = await kv.status();
    if (status.ttl !== ttlMs)
      throw new RangeError(`Lease.open: bucket ${bucket} has TTL ${status.ttl} ms, asked for ${ttlMs} ms`);
    return new Lease(origin, holderId, kv, opts);
  }

  /** This holder's URL as written in the lease (takes effect at the next acquire or renewal). */
  set url(url: string | undefined) {
    const holder: LeaseHolder = url === undefined ? { id: this.holderId } : { id: this.holderId, url };
    this.value = utf8(JSON.stringify(holder));
  }

  /**
   * The current holder of the lease of `origin`, without taking part (for
   * mirrors pointing submitters to the leader). Null if nobody holds it or
   * the bucket does not exist yet.
   */
  static async peek(nc: NatsConnection, origin: string): Promise<LeaseHolder | null> {
    let kv: KV;
    try {
      kv = await nc.jetstream().views.kv(leaseBucketName(origin), { bindOnly: true });
    } catch {
      return null;
    }
    const cur = await kv.get(LEASE_KEY);
    return cur && cur.operation === 'PUT' ? parseHolder(cur) : null;
  }

  /** Whether this holder holds the lease now, by its local deadline. */
  get held(): boolean {
    return this.revision > 0 && performance.now() < this.validUntil;
  }

  /** Milliseconds the lease is still held for by the local deadline (0 if not held). */
  remainingMs(): number {
    return this.held ? this.validUntil - performance.now() : 0;
  }

  /**
   * Takes the lease if nobody holds it (never taken, expired, released), or
   * if it already holds our id (a repeated call, which renews it, or a
   * restart with a stable id: see `open`). Resolves true if we now hold it, false if another
   * holder does. Throws on transport errors.
   */
  async tryAcquire(): Promise<boolean> {
    const t0 = performance.now();
    let rev: number;
    try {
      rev = await this.kv.create(LEASE_KEY, this.value);
    } catch (e) {
      if (!isCasFailure(e)) throw e;
      const cur = await this.kv.get(LEASE_KEY);
      if (!cur || cur.operation !== 'PUT' || parseHolder(cur).id !== this.holderId) return false;
      try {
        rev = await this.kv.update(LEASE_KEY, this.value, cur.revision);
      } catch (e2) {
        if (isCasFailure(e2)) return false;
        throw e2;
      }
    }
    this.held_(rev, t0);
    return true;
  }

  /**
   * Rewrites the value with compare-and-swap on our last revision. True: the
   * lease is ours for another TTL. False: it is lost (the value expired or
   * another holder took over, or our local deadline passed) — the listeners
   * of `onLost` are told once. Throws on a transport error while the lease
   * is still held by the local deadline (the caller may retry).
   */
  async renew(): Promise<boolean> {
    if (this.revision === 0) return false;
    const t0 = performance.now();
    try {
      const rev = await this.kv.update(LEASE_KEY, this.value, this.revision);
      if (this.revision === 0) return false; // lost or released meanwhile
      this.held_(rev, t0);
      return true;
    } catch (e) {
      if (isCasFailure(e)) {
        this.lost('taken');
        return false;
      }
      if (performance.now() >= this.validUntil) {
        this.lost('expired');
        return false;
      }
      throw e;
    }
  }

  /**
   * Renews every `renewEveryMs` until stopped, released or lost. Transport
   * errors are retried at the next period; the lease is lost when the local
   * deadline passes without a successful renewal (`onLost` says so).
   */
  startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      if (this.renewing || this.revision === 0) return;
      this.renewing = this.renew()
        .catch(() => false)
        .finally(() => (this.renewing = null));
    }, this.renewEveryMs);
    this.renewTimer.unref();
  }

  /** Stops renewing (the lease then expires on the server after its TTL). */
  stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /** Calls `listener` when a held lease is lost (not when released). Returns an unsubscribe function. */
  onLost(listener: (reason: LeaseLossReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Gives the lease up: stops renewing and deletes the value if it is still
   * ours (compare-and-swap on our revision, so a successor's value is never
   * deleted). Standbys can acquire at once rather than after the TTL.
   */
  async release(): Promise<void> {
    this.stopRenewing();
    const rev = this.revision;
    this.clear();
    if (rev === 0) return;
    try {
      await this.kv.delete(LEASE_KEY, { previousSeq: rev });
    } catch (e) {
      if (!isCasFailure(e)) throw e; // not ours any more: nothing to release
    }
  }

  /** The current holder as the server sees it, or null if nobody holds the lease. */
  async holder(): Promise<LeaseHolder | null> {
    const cur = await this.kv.get(LEASE_KEY);
    if (!cur || cur.operation !== 'PUT') return null;
    return parseHolder(cur);
  }

  /** Stops the timers without releasing (the lease expires after its TTL). */
  close(): void {
    this.stopRenewing();
    this.clear();
  }

  private held_(rev: number, t0: number): void {
    this.revision = rev;
    this.validUntil = t0 + this.ttlMs - this.marginMs;
    this.armExpiry();
  }

  /** Fires 'expired' at the local deadline (re-armed if the timer fires a little early, as Node's may). */
  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null;
        if (this.revision === 0) return;
        if (performance.now() >= this.validUntil) this.lost('expired');
        else this.armExpiry();
      },
      Math.max(0, Math.ceil(this.validUntil - performance.now())),
    );
    this.expiryTimer.unref();
  }

  private clear(): void {
    this.revision = 0;
    this.validUntil = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private lost(reason: LeaseLossReason): void {
    if (this.revision === 0) return;
    this.stopRenewing();
    this.clear();
    for (const l of [...this.listeners]) l(reason);
  }
}

function parseHolder(e: KvEntry): LeaseHolder {
  let j: unknown;
  try {
    j = JSON.parse(fromUtf8(e.value));
  } catch {
    throw new MalformedError('lease value is not JSON');
  }
  const o = j as { id?: unknown; url?: unknown } | null;
  if (!o || typeof o.id !== 'string' || (o.url !== undefined && typeof o.url !== 'string'))
    throw new MalformedError('lease value is not {"id": string, "url"?: string}');
  return o.url === undefined ? { id: o.id } : { id: o.id, url: o.url };
}
