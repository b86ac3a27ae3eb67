/**
 * What a log trusts, read from the log itself (docs/DESIGN.md "Records",
 * `log`): the authority keys its `log` records name, each record read
 * through LogReader (authenticated against a checkpoint signed by the log
 * key) and admitted by the ledger's one rules function, in order. A reader
 * that pins authority keys of its own learns whether the log agrees.
 *
 * Which entries are log records is the server's claim (`GET /authorities`),
 * so it is checked, not trusted: each claimed entry must be the next log
 * record (its `sequence` the number before it), signed by the log key for
 * this log's origin, and entry 0 must be the first. A server that hides a
 * later log record can make a reader see an older set, never a set the log
 * key did not sign; a replay of the whole log (the audit) closes that gap.
 */
import { toBase64 } from '../ledger/bytes.js';
import { UrnaError } from '../ledger/errors.js';
import type { TreeHead } from '../ledger/merkle.js';
import { parseVerifierKey } from '../ledger/note.js';
import { decodeRecord } from '../ledger/record.js';
import { applyRecord, MemoryState, stateKey, type LogState, type RulesContext } from '../ledger/rules.js';
import type { LogReader } from './reader.js';

/** The log's trust, as its authenticated log records state it at `head`. */
export interface LogTrust {
  origin: string;
  /** Base64 Ed25519 public keys, as records carry them. */
  authorities: string[];
  /** The indexes of the log records read, in order (entry 0 first). */
  records: number[];
  head: TreeHead;
}

/** A claimed log record that is not one, or that the rules refuse; `index` names the entry. */
export class TrustError extends UrnaError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super('untrusted_log_record', `entry ${index}: ${message}`);
  }
}

/**
 * Reads the log records at `records` (default: the indexes the source
 * claims at `GET /authorities`; entry 0 when it claims none) at `head`
 * (default: the source's latest verified checkpoint). Throws TrustError for
 * a claimed entry that is not an admissible log record, the reader's errors
 * for data that does not authenticate.
 */
export async function readTrust(
  reader: LogReader,
  opts: { logKey: string; records?: readonly number[]; head?: TreeHead },
): Promise<LogTrust> {
  const head = opts.head ?? (await reader.checkpoint()).head;
  const records = opts.records ?? (await reader.client.authorities()).records;
  if (records[0] !== 0) throw new TrustError(records[0] ?? 0, 'the first log record of a log is its entry 0');
  const key = parseVerifierKey(opts.logKey.trim());
  const ctx: RulesContext = {
    logKey: toBase64(key.publicKey),
    origin: key.name,
    rootAt: () => {
      throw new Error('a log record binds no tree size');
    },
  };
  const state = new MemoryState();
  let previous = -1;
  for (const index of records) {
    if (!Number.isSafeInteger(index) || index <= previous || index >= head.size)
      throw new TrustError(index, `not an entry after ${previous} in a tree of ${head.size}`);
    previous = index;
    const entry = await reader.entry(index, head); // authenticated, or the reader's error
    let decoded;
    try {
      decoded = decodeRecord(entry);
    } catch (e) {
      if (e instanceof UrnaError) throw new TrustError(index, e.message);
      throw e;
    }
    if (decoded.record.type !== 'log')
      throw new TrustError(index, `an entry of type ${decoded.record.type}, not a log record`);
    const effects = applyRecord(state.read, decoded, index, ctx);
    if (!Array.isArray(effects)) throw new TrustError(index, `${effects.code}: ${effects.message}`);
    state.apply(effects);
  }
  const trust = state.read(stateKey.log()) as LogState;
  return { origin: trust.origin, authorities: trust.authorities, records: trust.records, head };
}

/** How a reader's pinned authority keys (base64) differ from what the log trusts; both empty: they agree. */
export function comparePins(
  trust: LogTrust,
  pinned: readonly string[],
): { notTrusted: string[]; notPinned: string[] } {
  return {
    notTrusted: pinned.filter((k) => !trust.authorities.includes(k)),
    notPinned: trust.authorities.filter((k) => !pinned.includes(k)),
  };
}
