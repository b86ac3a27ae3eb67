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
  /** JSClusterNotAvailErr: "JetStream system temporarily unavailable" (no meta leader yet). */
  clusterNotAvailable: 10008,
  /** JSClusterNotLeaderErr: "JetStream cluster can not handle request" (leadership moving). */
  clusterNotLeader: 10009,
} as const;

/** The JetStream API error code of a nats.js error, if it carries one. */
export function apiErrCode(e: unknown): number | undefined {
  return (e as NatsError | undefined)?.api_error?.err_code;
}

/**
 * Whether a JetStream API request failed only because the cluster is
 * settling (a node just left or returned, a leader is being elected): the
 * request timed out, no server answered it yet (nats.js codes TIMEOUT and
 * 503), or the cluster said it is temporarily unavailable or has no leader
 * for it. Worth asking again.
 */
export function isSettling(e: unknown): boolean {
  const code = (e as NatsError | undefined)?.code;
  const api = apiErrCode(e);
  return (
    code === 'TIMEOUT' ||
    code === '503' ||
    api === JS_ERR.clusterNotAvailable ||
    api === JS_ERR.clusterNotLeader
  );
}

/**
 * Runs a JetStream API request, asking again (every `retryMs`) while it
 * fails only because the cluster is settling ({@link isSettling}), for at
 * most `attempts` attempts; any other error, or the last one, is thrown.
 */
export async function whileSettling<T>(request: () => Promise<T>, attempts = 10, retryMs = 500): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if (!isSettling(e) || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
