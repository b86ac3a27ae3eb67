/**
 * The journal's batch encoding and the log's NATS names, without a server:
 * round-trip and strictness properties, a golden encoding, token safety.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import {
  BATCH_HEADER_BYTES,
  decodeBatch,
  encodeBatch,
  encodedBatchBytes,
} from '../../services/journal/journal.js';
import { journalStreamName, leaseBucketName, logToken, subjects } from '../../services/journal/subjects.js';
import type { JournalBatch } from '../../services/node/replicator.js';

const arbBatch: fc.Arbitrary<JournalBatch> = fc
  .record({
    firstIndex: fc.oneof(fc.nat(1000), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 64 })),
    root: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    entries: fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 40 }),
  })
  .map(({ firstIndex, root, entries }) => ({
    firstIndex,
    size: firstIndex + entries.length,
    root,
    entries,
  }));

describe('journal batch encoding', () => {
  it('round-trips, and its length is encodedBatchBytes', () => {
    fc.assert(
      fc.property(arbBatch, (b) => {
        const data = encodeBatch(b);
        expect(data.length).toBe(encodedBatchBytes(b.entries.map((e) => e.length)));
        expect(decodeBatch(data)).toEqual(b);
        // Deterministic: re-encoding the decoded batch gives the same bytes.
        expect(encodeBatch(decodeBatch(data))).toEqual(data);
      }),
    );
  });

  it('rejects every truncation and any trailing byte', () => {
    fc.assert(
      fc.property(arbBatch, fc.nat(), (b, cut) => {
        const data = encodeBatch(b);
        const n = cut % data.length;
        expect(() => decodeBatch(data.subarray(0, n))).toThrow(MalformedError);
        const longer = new Uint8Array(data.length + 1);
        longer.set(data);
        expect(() => decodeBatch(longer)).toThrow(MalformedError);
      }),
      { numRuns: 200 },
    );
  });

  it('has the documented layout (golden bytes)', () => {
    const root = fromHex('11'.repeat(32));
    const data = encodeBatch({ firstIndex: 5, size: 7, root, entries: [utf8('ab'), new Uint8Array(0)] });
    expect(toHex(data)).toBe(
      '554a4201' + // "UJB" v1
        '0000000000000005' + // first index
        '0000000000000007' + // size
        '11'.repeat(32) + // root
        '00000002' +
        '6162' + // "ab"
        '00000000', // empty entry
    );
    expect(BATCH_HEADER_BYTES).toBe(52);
  });

  it('refuses batches whose numbers do not add up', () => {
    const root = new Uint8Array(32);
    expect(() => encodeBatch({ firstIndex: 3, size: 5, root, entries: [utf8('x')] })).toThrow(RangeError);
    expect(() => encodeBatch({ firstIndex: -1, size: 0, root, entries: [] })).toThrow(RangeError);
    expect(() =>
      encodeBatch({ firstIndex: 0, size: 1, root: new Uint8Array(31), entries: [utf8('x')] }),
    ).toThrow(TypeError);
    const ok = encodeBatch({ firstIndex: 9, size: 10, root, entries: [utf8('x')] });
    const badMagic = ok.slice();
    badMagic[3] = 2;
    expect(() => decodeBatch(badMagic)).toThrow(MalformedError);
    // size < first index
    const shrunk = ok.slice();
    shrunk.set(fromHex('0000000000000008'), 12);
    expect(() => decodeBatch(shrunk)).toThrow(MalformedError);
    // a count far beyond the data is refused before allocating
    const huge = ok.slice();
    huge.set(fromHex('001fffffffffffff'), 12);
    expect(() => decodeBatch(huge)).toThrow(MalformedError);
  });
});

describe('log names', () => {
  it('derives NATS-safe, deterministic, collision-resistant tokens', () => {
    const t = logToken('example.test/log');
    expect(t).toMatch(/^example_test_log_[0-9a-f]{12}$/);
    expect(logToken('example.test/log')).toBe(t);
    expect(logToken('Example.test/log')).not.toBe(t);
    expect(logToken('example_test_log')).not.toBe(t);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (origin) => {
        const tok = logToken(origin);
        expect(tok).toMatch(/^[a-z0-9_]{1,40}_[0-9a-f]{12}$/);
      }),
    );
    expect(() => logToken('')).toThrow(RangeError);
  });

  it('names every subject of DESIGN.md, the stream and the lease bucket', () => {
    const t = logToken('urna.example/2026');
    expect(subjects('urna.example/2026')).toEqual({
      journal: `urna.${t}.journal`,
      checkpoint: `urna.${t}.checkpoint`,
      cosig: `urna.${t}.cosig`,
      gossip: `urna.${t}.gossip`,
      alarm: `urna.${t}.alarm`,
    });
    expect(journalStreamName('urna.example/2026')).toBe(`urna_${t}_journal`);
    expect(leaseBucketName('urna.example/2026')).toBe(`urna_${t}_lease`);
  });
});
