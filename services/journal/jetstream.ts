/** What the journal, the checkpoint feed and the lease share about JetStream's API errors. */
import type { NatsError } from 'nats';

/** JetStream API error codes (nats-server's server/errors.json, `error_code`). */
export const JS_ERR = {
  /** An expected-last-sequence (or KV revision) did not match: another writer got there first. */
  wrongLastSequence: 10071,
  streamNotFound: 10059,
  messageNotFound: 10037,
  /** The message exceeds the stream's (or the server's) maximum message size. */
  maxMsgSize: 10054,
} as const;

/** The JetStream API error code of a nats.js error, if it carries one. */
export function apiErrCode(e: unknown): number | undefined {
  return (e as NatsError | undefined)?.api_error?.err_code;
}
