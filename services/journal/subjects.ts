/**
 * NATS names of one log (DESIGN.md "NATS subjects"): every subject, stream
 * and bucket is derived from the log's origin through `logToken`, so two
 * processes configured with the same origin meet on the same names.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { utf8 } from '../../ledger/bytes.js';

/** The readable part of a token is cut to this many characters. */
const READABLE_MAX = 40;
/** Hex characters of SHA-256(origin) appended to the token (48 bits). */
const HASH_HEX = 12;

/**
 * A deterministic token for `origin` that is safe as one NATS subject token,
 * a JetStream stream name and a KV bucket name: the origin lower-cased, with
 * every character outside [a-z0-9] replaced by `_`, cut to 40 characters,
 * then `_` and the first 12 hex digits of SHA-256(origin) — so origins that
 * differ only in case or punctuation still get different tokens.
 *
 * `logToken('example.test/log') === 'example_test_log_' + sha256hex.slice(0, 12)`.
 * Throws TypeError for a non-string, RangeError for an empty origin.
 */
export function logToken(origin: string): string {
  if (typeof origin !== 'string') throw new TypeError('logToken: origin must be a string');
  if (origin.length === 0) throw new RangeError('logToken: empty origin');
  const readable = origin
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '_')
    .slice(0, READABLE_MAX);
  const digest = createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, HASH_HEX);
  return `${readable}_${digest}`;
}

/** The NATS subjects of one log (DESIGN.md "NATS subjects"). */
export interface LogSubjects {
  /** `urna.<log>.journal`: the JetStream stream of sequenced batches. */
  journal: string;
  /** `urna.<log>.checkpoint`: each new signed checkpoint (core NATS). */
  checkpoint: string;
  /** `urna.<log>.cosig`: witness cosignatures. */
  cosig: string;
  /** `urna.<log>.gossip`: checkpoints monitors have seen, from anywhere. */
  gossip: string;
  /** `urna.<log>.alarm`: split-view evidence (both signed notes). */
  alarm: string;
}

/** Every subject of the log named `origin`. */
export function subjects(origin: string): LogSubjects {
  const t = logToken(origin);
  return {
    journal: `urna.${t}.journal`,
    checkpoint: `urna.${t}.checkpoint`,
    cosig: `urna.${t}.cosig`,
    gossip: `urna.${t}.gossip`,
    alarm: `urna.${t}.alarm`,
  };
}

/** The JetStream stream holding the journal of `origin`. */
export function journalStreamName(origin: string): string {
  return `urna_${logToken(origin)}_journal`;
}

/** The KV bucket holding the sequencer lease of `origin` (its stream is `KV_<bucket>`). */
export function leaseBucketName(origin: string): string {
  return `urna_${logToken(origin)}_lease`;
}

/**
 * Publishes a signed checkpoint note on `urna.<log>.checkpoint`. Core NATS:
 * at most once, to whoever is subscribed now; nothing is stored. Subscribers
 * that miss one catch up from the journal and the next checkpoint, since
 * checkpoints only ever grow. Throws if the connection is closed.
 */
export function publishCheckpoint(nc: NatsConnection, origin: string, note: string): void {
  nc.publish(subjects(origin).checkpoint, utf8(note));
}
