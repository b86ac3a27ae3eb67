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
import { decryptionBody, type ProofItem } from '../../ledger/encrypted-election.js';
import { stateKey, type EncryptedSumState } from '../../ledger/rules.js';
import { ReplayError, Replayer, type Prover } from '../../verifier/replayer.js';
import { buildElection, logAt, TEST_LOG } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';
import { editBody } from '../helpers/rule-cases.js';

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

describe('an encrypted night: proofs verified ahead of the rules', () => {
  const f = buildElection({ id: 'replay-enc', voters: 12, guardians: { count: 3, quorum: 2 } });
  const c = keyCeremony(f);
  const model = logAt(f, 'open');
  model.accept(...f.voters.map((v) => c.ballot(v, { riksdag: { m: 1 }, referendum: { no: 1 } })));
  model.accept(f.phase('close'));
  const honestSize = model.size;
  for (const d of ['north-1', 'north-2', 'south-1', 'south-2'])
    for (const g of [2, 3])
      model.accept(c.decryption(g, d, model.state.read(stateKey.encryptedSum(f.id, d)) as EncryptedSumState));
  const entries = model.records;
  const counting = (inner: Prover) => {
    const asked: ProofItem[] = [];
    const prove: Prover = (items) => (asked.push(...items), inner(items));
    return { asked, prove };
  };

  it('gives the same state with the proofs verified ahead on the pool, inline, or by the rules alone', async () => {
    const pooled = counting((items) => pool.verifyAllProofs(items));
    const a = new Replayer({ logKey: LOG_KEY, ...pool.replayWork(), prove: pooled.prove, chunk: 8 });
    await a.appendAll(chunks(entries, 8));
    const b = new Replayer({ logKey: LOG_KEY, chunk: 8 });
    await b.appendAll(chunks(entries, 8));
    const none = new Replayer({
      logKey: LOG_KEY,
      prove: async (items) => items.map(() => undefined as never),
    });
    for (const e of entries) await none.append([e]);
    expect(a.state.snapshot()).toBe(b.state.snapshot());
    expect(none.state.snapshot()).toBe(a.state.snapshot());
    // Every ballot and every decryption was verified ahead, also those just after the key was fixed in their chunk.
    expect(pooled.asked.filter((x) => 'decryption' in x)).toHaveLength(8);
    expect(pooled.asked.filter((x) => 'credential' in x)).toHaveLength(f.voters.length);
  });

  it("stops at a cheating guardian's decryption and at a ballot whose proofs fail, whatever proves them", async () => {
    const sums = model.state.read(stateKey.encryptedSum(f.id, 'south-2')) as EncryptedSumState;
    const sealed = Object.fromEntries(Object.entries(sums.contests).map(([k, x]) => [k, x.sum]));
    const cheat = c.decryption(
      1,
      'south-2',
      sums,
      decryptionBody(1, c.keyShare(1) + 1n, 'south-2', sums.changed, sealed, c.hash),
    );
    const forgedBallot = editBody(c.ballot(f.voters[3]!), f.voters[3]!.seed, (body) => {
      const [first, second] = (
        body as { encrypted: Array<{ options: Array<{ alpha: string; beta: string }> }> }
      ).encrypted[0]!.options;
      first!.beta = second!.alpha;
    });
    const lies: Array<[string, Uint8Array[], number, RegExp]> = [
      ['cheating decryption', [...entries, cheat], entries.length, /invalid_proof: decryption: guardian 1/],
      [
        'forged ballot proof',
        [...entries.slice(0, honestSize - 1), forgedBallot],
        honestSize - 1,
        /invalid_proof/,
      ],
    ];
    for (const [name, list, at, why] of lies)
      for (const work of [pool.replayWork(), {}]) {
        const r = new Replayer({ logKey: LOG_KEY, ...work, chunk: 64 });
        const err = await r.appendAll(chunks(list, 64)).catch((e: unknown) => e);
        expect(err, name).toBeInstanceOf(ReplayError);
        expect((err as ReplayError).index, name).toBe(at);
        expect((err as ReplayError).message, name).toMatch(why);
      }
  });
});
