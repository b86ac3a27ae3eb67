/**
 * The election state (ledger/rules.ts "projections") as kept in the log's
 * store: each state entry `k` is committed with the batch that changed it,
 * under the extra key `p/<k>`, as RFC 8785 canonical JSON — the same bytes a
 * replayer's MemoryState serialises, so projections compare byte for byte.
 */
import { fromUtf8 } from '../../ledger/bytes.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import type { StateReader, StateValue } from '../../ledger/rules.js';
import type { LogStore } from '../storage/store.js';

/** Store key of a state entry. */
export function projectionKey(stateKey: string): string {
  return `p/${stateKey}`;
}

/** Encodes a state value for the store. */
export function encodeState(value: StateValue): Uint8Array {
  return canonicalBytes(value);
}

/** Decodes a stored state value. */
export function decodeState(data: Uint8Array): StateValue {
  return JSON.parse(fromUtf8(data)) as StateValue;
}

/** Reads state entries in one batched read; absent entries are left out of the map. */
export async function readState(store: LogStore, keys: readonly string[]): Promise<Map<string, StateValue>> {
  const values = await store.readExtras(keys.map(projectionKey));
  const out = new Map<string, StateValue>();
  keys.forEach((k, i) => {
    const v = values[i];
    if (v) out.set(k, decodeState(v));
  });
  return out;
}

class MissingState {
  constructor(readonly key: string) {}
}

/**
 * Runs a pure function of the committed state (e.g. ballotStatus,
 * electionSummary), fetching the entries it reads: when it reads one not yet
 * fetched, it is abandoned, the entry fetched, and it runs again. For the
 * read API's small lookups; `fn` must be pure.
 */
export async function withState<T>(store: LogStore, fn: (read: StateReader) => T): Promise<T> {
  const known = new Map<string, StateValue | undefined>();
  for (let round = 0; round < 16; round++) {
    try {
      return fn((key) => {
        if (!known.has(key)) throw new MissingState(key);
        return known.get(key);
      });
    } catch (e) {
      if (!(e instanceof MissingState)) throw e;
      known.set(e.key, (await readState(store, [e.key])).get(e.key));
    }
  }
  throw new Error('withState: too many state reads');
}
