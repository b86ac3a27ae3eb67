/**
 * verifier/ceremony.ts: an encrypted election's key ceremony read from
 * authenticated records, against a source that tells the truth and one
 * whose claim of where the records are lies (another guardian's record,
 * another type, a record its guardian did not sign, one beyond the tree).
 */
import { describe, expect, it } from 'vitest';
import { TreeAppender } from '../../ledger/appender.js';
import { toBase64, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { encodeElement } from '../../ledger/group.js';
import { leafHash } from '../../ledger/hash.js';
import { MemoryHashStore, treeHash } from '../../ledger/merkle.js';
import { ED25519_TYPE, formatSignerKey, formatVerifierKey, parseSignerKey } from '../../ledger/note.js';
import { decodeRecord, signRecord } from '../../ledger/record.js';
import type { CeremonyState } from '../../ledger/rules.js';
import { tilePath } from '../../ledger/tile.js';
import { CeremonyRecordError, KeyNotFixedError, readEncryptionContext } from '../../verifier/ceremony.js';
import { LogReader } from '../../verifier/reader.js';
import { buildElection, logRecord, TEST_LOG, testKey } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';

const f = buildElection({ id: 'enc-read', guardians: { count: 3, quorum: 2 } });
const c = keyCeremony(f);
const LOG_KEY = formatVerifierKey(TEST_LOG.origin, ED25519_TYPE, Buffer.from(TEST_LOG.signer.key, 'base64'));

/** A static tlog-tiles copy of a log of `entries`. */
function source(entries: Uint8Array[]): LogReader {
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
  const fetchImpl = async (input: RequestInfo | URL): Promise<Response> => {
    const body = files.get(new URL(String(input)).pathname.slice(1));
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response('not found', { status: 404 });
  };
  return new LogReader('http://src.test/', { logKey: LOG_KEY, http: { fetch: fetchImpl, maxRetries: 0 } });
}

// Entry 0 the log record, 1 the election, 2–4 guardian, 5–7 shares, 8–10 accept.
const ceremony = c.records();
const entries = [logRecord(f.authorities), f.election(), ...ceremony];
const summary = { id: f.id, index: 1 };

/** The claim an honest log makes of these entries. */
function honest(): CeremonyState {
  const guardians: CeremonyState['guardians'] = {};
  for (const i of [1, 2, 3]) {
    const body = decodeRecord(ceremony[i - 1]!).record.body as {
      commitments: Array<{ key: string }>;
      communication: { key: string };
    };
    guardians[i] = {
      record: 1 + i,
      commitments: body.commitments.map((x) => x.key),
      communication: body.communication.key,
    };
  }
  return { guardians, shares: { 1: 5, 2: 6, 3: 7 }, accepted: { 1: 8, 2: 9, 3: 10 }, key: c.keyB64 };
}

describe('readEncryptionContext', () => {
  it("reads the election's hash, contests and key from the authenticated records", async () => {
    const { ctx, view } = await readEncryptionContext(source(entries), summary, { claim: honest() });
    expect(ctx.hash).toEqual(leafHash(f.election()));
    expect(toBase64(encodeElement(ctx.key))).toBe(c.keyB64);
    expect(ctx.contests.map((x) => x.id)).toEqual(['riksdag', 'referendum']);
    expect([...view.accepted.keys()].sort()).toEqual([1, 2, 3]);
  });

  it('says the key is not fixed while an accept is missing, or not yet under the checkpoint', async () => {
    const partial = { ...honest(), accepted: { 1: 8, 3: 10 } };
    const e = await readEncryptionContext(source(entries), summary, { claim: partial }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KeyNotFixedError);
    expect((e as KeyNotFixedError).waiting).toEqual([2]);
    // Guardian 3's accept is claimed, but the checkpoint does not cover it yet.
    const short = await readEncryptionContext(source(entries.slice(0, 10)), summary, {
      claim: honest(),
    }).catch((x: unknown) => x);
    expect((short as KeyNotFixedError).waiting).toEqual([3]);
  });

  const outsider = testKey('enc-read/outsider');
  const forged = signRecord(
    { v: 1, type: 'accept', election: f.id, body: { index: 2, key: c.keyB64 } },
    outsider.seed,
  );
  it.each([
    [
      "another guardian's record",
      { accepted: { 1: 8, 2: 8, 3: 10 } },
      entries,
      8,
      /accept record of guardian 1, not of 2/,
    ],
    [
      'a record of another type',
      { shares: { 1: 5, 2: 9, 3: 7 } },
      entries,
      9,
      /an entry of type accept, not shares/,
    ],
    [
      'the election record as a guardian record',
      { accepted: { 1: 8, 2: 1, 3: 10 } },
      entries,
      1,
      /an entry of type election, not accept/,
    ],
    [
      'a record its guardian did not sign',
      { accepted: { 1: 8, 2: 11, 3: 10 } },
      [...entries, forged],
      11,
      /not signed by guardian 2/,
    ],
  ] as const)('refuses a claim that points at %s', async (_name, lie, log, index, message) => {
    const claim = { ...honest(), ...lie } as CeremonyState;
    const e = await readEncryptionContext(source([...log]), summary, { claim }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CeremonyRecordError);
    expect((e as CeremonyRecordError).index).toBe(index);
    expect((e as CeremonyRecordError).message).toMatch(message);
  });

  it('refuses an election index that is not the election record', async () => {
    const e = await readEncryptionContext(source(entries), { id: f.id, index: 2 }, { claim: honest() }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CeremonyRecordError);
    expect((e as CeremonyRecordError).message).toMatch(/an entry of type guardian, not election/);
  });
});
