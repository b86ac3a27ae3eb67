/**
 * verifier/trust.ts: what a log trusts, read from its authenticated log
 * records, against a source that tells the truth and one that lies about
 * which entries are log records.
 */
import { describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { MemoryHashStore, treeHash } from '../../ledger/merkle.js';
import { ED25519_TYPE, formatSignerKey, formatVerifierKey, parseSignerKey } from '../../ledger/note.js';
import { tilePath } from '../../ledger/tile.js';
import { LogReader } from '../../verifier/reader.js';
import { comparePins, readTrust, TrustError } from '../../verifier/trust.js';
import { buildElection, logRecord, TEST_LOG, testKey } from '../helpers/election.js';

const f = buildElection();
const other = testKey('another authority');
const LOG_KEY = formatVerifierKey(TEST_LOG.origin, ED25519_TYPE, Buffer.from(TEST_LOG.signer.key, 'base64'));

/** A static tlog-tiles copy of a log of `entries`, and what it claims at /authorities. */
function source(entries: Uint8Array[], claimed: number[]) {
  const appender = new TreeAppender();
  const store = new MemoryHashStore();
  for (const e of entries) store.append(appender.appendEntry(e).leafHash);
  const files = new Map<string, Uint8Array>();
  for (const { tile, data } of appender.takeTiles()) files.set(tilePath(tile), data.slice());
  const signer = parseSignerKey(formatSignerKey(TEST_LOG.origin, ED25519_TYPE, TEST_LOG.signer.seed));
  const size = entries.length;
  files.set(
    'checkpoint',
    utf8(
      signCheckpoint({ origin: TEST_LOG.origin, size, root: treeHash(size, store), extensions: [] }, signer),
    ),
  );
  files.set(
    'authorities',
    utf8(JSON.stringify({ origin: TEST_LOG.origin, authorities: [], records: claimed, open: 0 })),
  );
  const fetchImpl = async (input: RequestInfo | URL): Promise<Response> => {
    const body = files.get(new URL(String(input)).pathname.slice(1));
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response('not found', { status: 404 });
  };
  return new LogReader('http://src.test/', { logKey: LOG_KEY, http: { fetch: fetchImpl, maxRetries: 0 } });
}

const genesis = logRecord(f.authorities);
const added = logRecord([...f.authorities, other.key], { sequence: 1 });

describe('readTrust', () => {
  it('reads the authorities from entry 0 and the later log records the source names', async () => {
    const reader = source([genesis, f.election(), added, f.credentials()], [0, 2]);
    const trust = await readTrust(reader, { logKey: LOG_KEY });
    expect(trust).toMatchObject({
      origin: TEST_LOG.origin,
      authorities: [...f.authorities, other.key],
      records: [0, 2],
    });
    expect(comparePins(trust, f.authorities)).toEqual({ notTrusted: [], notPinned: [other.key] });
    expect(comparePins(trust, [...f.authorities, other.key])).toEqual({ notTrusted: [], notPinned: [] });
    // Told only of entry 0 (a hidden change): the older set, never one the log key did not sign.
    expect((await readTrust(reader, { logKey: LOG_KEY, records: [0] })).authorities).toEqual(f.authorities);
  });

  it.each([
    ['an entry that is not a log record', [0, 1], 1, /an entry of type election, not a log record/],
    ['no entry 0', [2], 2, /entry 0/],
    ['indexes out of order', [0, 2, 2], 2, /not an entry after 2/],
    ['an index beyond the tree', [0, 9], 9, /tree of 4/],
  ])('refuses a source that claims %s', async (_name, claimed, index, message) => {
    const reader = source([genesis, f.election(), added, f.credentials()], claimed);
    const e = await readTrust(reader, { logKey: LOG_KEY }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TrustError);
    expect((e as TrustError).index).toBe(index);
    expect((e as TrustError).message).toMatch(message);
  });

  it('refuses a log record the rules refuse (signed by another key, a sequence out of turn)', async () => {
    const forged = logRecord([other.key], { sequence: 1, by: other });
    await expect(readTrust(source([genesis, forged], [0, 1]), { logKey: LOG_KEY })).rejects.toThrow(
      /entry 1: wrong_role/,
    );
    const early = logRecord([other.key], { sequence: 2 });
    await expect(readTrust(source([genesis, early], [0, 1]), { logKey: LOG_KEY })).rejects.toThrow(
      /entry 1: stale_log_record/,
    );
  });
});
