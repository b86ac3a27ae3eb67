/**
 * The replayer (verifier/replayer.ts) over a real election log: pipelined
 * chunks give the state and tree of one-by-one replay, a forged entry stops
 * it at its exact index with everything before it applied, and a source
 * that fails mid-way leaves the chunks before the failure applied. The
 * decoder is the services' worker pool (RecordPool) fed entries that are
 * views into one large buffer, as the bench and a tile bundle give them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, toHex } from '../../ledger/bytes.js';
import { SignatureError } from '../../ledger/errors.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { ED25519_TYPE, formatVerifierKey } from '../../ledger/note.js';
import { decodeRecord } from '../../ledger/record.js';
import { RecordPool } from '../../services/crypto/record-pool.js';
import { ReplayError, Replayer } from '../../verifier/replayer.js';
import { buildElection, logAt, TEST_LOG } from '../helpers/election.js';

const LOG_KEY = formatVerifierKey(TEST_LOG.origin, ED25519_TYPE, fromBase64(TEST_LOG.signer.key));
const pool = new RecordPool(2);
afterAll(() => pool.close());

/** A night's records (log, election, credentials, open, ballots with re-votes, close) as views into one buffer. */
function night(): Uint8Array[] {
  const f = buildElection({ id: 'replay-2026', voters: 60 });
  const log = logAt(f, 'open');
  for (let round = 0; round < 3; round++)
    for (const v of f.voters.slice(0, 50 - 10 * round)) log.accept(f.ballot(v));
  log.accept(f.phase('close'));
  const total = log.records.reduce((n, r) => n + r.length, 0);
  const big = new Uint8Array(total + 1024 * 1024); // more than the entries: a worker message must not carry it
  let at = 0;
  return log.records.map((r) => {
    big.set(r, at);
    return big.subarray(at, (at += r.length));
  });
}

/** A ballot with another ciphertext under its original signature: canonical, well-formed, not signed. */
function tampered(entry: Uint8Array): Uint8Array {
  const { record } = decodeRecord(entry);
  expect(record.type).toBe('ballot');
  const body = record.body as { ciphertext: string };
  return canonicalBytes({ ...record, body: { ...body, ciphertext: toBase64(new Uint8Array(32).fill(1)) } });
}

function* chunks(entries: readonly Uint8Array[], size: number): Generator<Uint8Array[]> {
  for (let i = 0; i < entries.length; i += size) yield entries.slice(i, i + size);
}

describe('Replayer.appendAll', () => {
  const entries = night();

  it('gives the state and root of replaying one entry at a time', async () => {
    const one = new Replayer({ logKey: LOG_KEY });
    for (const e of entries) await one.append([e]);
    const piped = new Replayer({ logKey: LOG_KEY, decode: (b) => pool.decodeAll(b) });
    let calls = 0;
    await piped.appendAll(chunks(entries, 7), () => calls++);
    expect(calls).toBe(Math.ceil(entries.length / 7));
    expect(piped.size).toBe(entries.length);
    expect(toHex(piped.rootAt(entries.length))).toBe(toHex(one.rootAt(entries.length)));
    expect(piped.state.snapshot()).toBe(one.state.snapshot());
  });

  it('stops at a forged entry with its index, everything before it applied', async () => {
    const forged = entries.slice();
    const at = 40;
    forged[at] = tampered(entries[at]!);
    const r = new Replayer({ logKey: LOG_KEY, decode: (b) => pool.decodeAll(b) });
    const err = await r.appendAll(chunks(forged, 16)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayError);
    expect((err as ReplayError).index).toBe(at);
    expect(r.size).toBe(at);
  });

  it('applies the chunks before a source that fails, then throws its error', async () => {
    const r = new Replayer({ logKey: LOG_KEY, decode: (b) => pool.decodeAll(b) });
    async function* failing() {
      yield entries.slice(0, 10);
      yield entries.slice(10, 20);
      throw new Error('source went away');
    }
    await expect(r.appendAll(failing())).rejects.toThrow('source went away');
    expect(r.size).toBe(20);
  });
});

describe('RecordPool.decodeAll', () => {
  const entries = night();

  it('decodes views into a large buffer exactly as decodeRecord does', async () => {
    const decoded = await pool.decodeAll(entries);
    decoded.forEach((d, i) => {
      const expected = decodeRecord(entries[i]!);
      expect(d.record).toEqual(expected.record);
      expect(toBase64(d.leafHash)).toBe(toBase64(expected.leafHash));
      expect(d.bytes).toBe(entries[i]);
    });
  });

  it('rejects with the first bad entry’s error class', async () => {
    const bad = tampered(entries[entries.length - 5]!);
    await expect(pool.decodeAll([entries[4]!, bad, entries[6]!])).rejects.toBeInstanceOf(SignatureError);
  });
});
