// Records: sign/decode round trips for every type (with fast-check where the
// bodies vary), and every schema violation rejected with its code: unknown
// and missing fields, wrong types, non-canonical bytes, bad ids and keys,
// oversize fields and records, bad signatures and a wrong signing prefix.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from '../../ledger/bytes.js';
import { ed25519 } from '../../ledger/ed25519.js';
import { MalformedError, SignatureError } from '../../ledger/errors.js';
import { leafHash } from '../../ledger/hash.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import {
  ballotTracker,
  decodeRecord,
  LIMITS,
  MAX_RECORD_SIZE,
  RecordError,
  signRecord,
  type RecordErrorCode,
  type UnsignedRecord,
} from '../../ledger/record.js';
import { buildElection, logAt, signUnchecked, testKey } from '../helpers/election.js';

const f = buildElection();
const voter = f.voters[0]!;
/** Sets (or, for undefined, deletes) the member at a dotted path of a JSON value. */
function setPath(value: unknown, path: string, to: unknown): void {
  const keys = path.split('.');
  let o = value as { [k: string]: unknown };
  for (const k of keys.slice(0, -1)) o = o[k] as { [k: string]: unknown };
  if (to === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = to;
}

/** The JSON object of a record's bytes. */
function parse(bytes: Uint8Array): { [key: string]: unknown } {
  return JSON.parse(fromUtf8(bytes)) as { [key: string]: unknown };
}

/** A copy of a signed record's envelope (without signer and sig) with `edit` applied, re-signed without checks. */
function mutate(
  bytes: Uint8Array,
  edit: (envelope: { [key: string]: unknown }) => void,
  seed: Uint8Array,
): Uint8Array {
  const envelope = parse(bytes);
  delete envelope.sig;
  delete envelope.signer;
  edit(envelope);
  return signUnchecked(envelope, seed);
}

function decodeError(bytes: Uint8Array): unknown {
  try {
    decodeRecord(bytes);
  } catch (e) {
    return e;
  }
  throw new Error('expected decodeRecord to throw');
}

function expectCode(bytes: Uint8Array, code: RecordErrorCode): RecordError {
  const e = decodeError(bytes);
  expect(e).toBeInstanceOf(RecordError);
  expect((e as RecordError).code).toBe(code);
  return e as RecordError;
}

/** A tally of a closed election with one report, as counting the log gives it. */
function closedTally(): Uint8Array {
  const log = logAt(f, 'close');
  log.accept(f.report('north-1', 'riksdag', 'preliminary', { s: 10, m: 20, sd: 5, c: 1 }));
  return f.tally(log);
}

// One valid record of every type, with the key that signs it.
const samples = {
  election: [f.election(), f.authority],
  districts: [f.districts([{ id: 'north-3', parent: 'north' }]), f.authority],
  credentials: [f.credentials(), f.registrar],
  phase: [f.phase('open'), f.authority],
  ballot: [f.ballot(voter), voter],
  override: [f.override(voter), f.reporters.north],
  report: [
    f.report('north-1', 'riksdag', 'preliminary', { s: 10, m: 20, sd: 5, c: 1 }),
    f.reporters.national,
  ],
  tally: [closedTally(), f.counter],
} as const;

describe('sign and decode', () => {
  it.each(Object.entries(samples))('round-trips a %s record', (type, [bytes, signer]) => {
    const decoded = decodeRecord(bytes);
    expect(decoded.record.type).toBe(type);
    expect(decoded.record.signer).toBe(signer.key);
    expect(decoded.bytes).toBe(bytes);
    expect(decoded.leafHash).toEqual(leafHash(bytes));
    expect(canonicalBytes(decoded.record)).toEqual(bytes);
    // Re-signing the decoded content gives the same bytes (Ed25519 is deterministic).
    const { sig: _sig, signer: _signer, ...unsigned } = decoded.record;
    expect(signRecord(unsigned as UnsignedRecord, signer.seed)).toEqual(bytes);
  });

  it('sig is Ed25519 over "urna/record/v1\\n" || JCS(envelope without sig)', () => {
    const bytes = samples.phase[0];
    const { sig, ...rest } = parse(bytes);
    const message = concat(utf8('urna/record/v1\n'), canonicalBytes(rest));
    expect(ed25519().verify(fromBase64(sig as string), message, fromBase64(f.authority.key))).toBe(true);
  });

  it('ballotTracker is the hex RFC 9162 leaf hash, computable before submitting', () => {
    const bytes = f.ballot(voter);
    expect(ballotTracker(bytes)).toBe(toHex(leafHash(bytes)));
    expect(ballotTracker(bytes)).toMatch(/^[0-9a-f]{64}$/);
    expect(decodeRecord(bytes).leafHash).toEqual(fromHex(ballotTracker(bytes)));
  });

  it('a decoded record is structured-clonable (for workers)', () => {
    const decoded = decodeRecord(samples.election[0]);
    expect(structuredClone(decoded)).toEqual(decoded);
  });

  it('ballots with any contests and ciphertext round-trip', () => {
    const contestId = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(contestId, { minLength: 1, maxLength: LIMITS.contests }),
        fc.uint8Array({ minLength: 1, maxLength: LIMITS.ciphertext }),
        (contests, ciphertext) => {
          const bytes = signRecord(
            { v: 1, type: 'ballot', election: f.id, body: { contests, ciphertext: toBase64(ciphertext) } },
            voter.seed,
          );
          const { record } = decodeRecord(bytes);
          expect(record.type === 'ballot' && record.body.contests).toEqual(contests);
          expect(
            record.type === 'ballot' && 'ciphertext' in record.body && fromBase64(record.body.ciphertext),
          ).toEqual(ciphertext);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reports with any counts round-trip', () => {
    const count = fc.oneof(fc.nat(), fc.maxSafeNat());
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), count, { minKeys: 1, maxKeys: 40 }),
        count,
        count,
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom('preliminary' as const, 'final' as const),
        (counts, blank, invalid, protocol, stage) => {
          const body = {
            district: 'north-1',
            contest: 'riksdag',
            stage,
            counts,
            blank,
            invalid,
            protocol: toHex(protocol),
          };
          const bytes = signRecord({ v: 1, type: 'report', election: f.id, body }, f.reporters.north.seed);
          expect(decodeRecord(bytes).record.body).toEqual(body);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('credentials with and without weights round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.uint8Array({ minLength: 32, maxLength: 32 }),
            fc.option(fc.integer({ min: 1, max: LIMITS.weight }), { nil: undefined }),
          ),
          {
            minLength: 1,
            maxLength: 50,
          },
        ),
        (list) => {
          const credentials = list.map(([k, weight]) =>
            weight === undefined
              ? { key: toBase64(k), district: 'south-2' }
              : { key: toBase64(k), district: 'south-2', weight },
          );
          const bytes = signRecord(
            { v: 1, type: 'credentials', election: f.id, body: { credentials } },
            f.registrar.seed,
          );
          expect(decodeRecord(bytes).record.body).toEqual({ credentials });
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('rejections', () => {
  const ballot = samples.ballot[0];
  const election = samples.election[0];

  it('a flipped bit in the signature: SignatureError (bad_signature, 403 by code)', () => {
    const o = parse(ballot);
    const sig = fromBase64(o.sig as string);
    sig[10]! ^= 0x04;
    o.sig = toBase64(sig);
    const e = decodeError(canonicalBytes(o));
    expect(e).toBeInstanceOf(SignatureError);
    expect((e as SignatureError).code).toBe('bad_signature');
  });

  it('a changed body under the old signature: SignatureError', () => {
    const o = parse(ballot);
    (o.body as { contests: string[] }).contests = ['riksdag'];
    expect(decodeError(canonicalBytes(o))).toBeInstanceOf(SignatureError);
  });

  it('another signer claimed: SignatureError', () => {
    const o = parse(ballot);
    o.signer = f.voters[1]!.key;
    expect(decodeError(canonicalBytes(o))).toBeInstanceOf(SignatureError);
  });

  it('a signature with the wrong domain-separation prefix: SignatureError', () => {
    const envelope = { v: 1, type: 'phase', election: f.id, body: { phase: 'open' } };
    for (const prefix of ['urna/record/v2\n', 'urna/record/v1', '', 'cosignature/v1\n'])
      expect(decodeError(signUnchecked(envelope, f.authority.seed, prefix))).toBeInstanceOf(SignatureError);
    expect(() => decodeRecord(signUnchecked(envelope, f.authority.seed))).not.toThrow();
  });

  it('a flipped bit anywhere in the bytes never decodes', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const bytes = samples.report[0].slice();
        bytes[at % bytes.length]! ^= 1 << bit;
        const e = decodeError(bytes);
        expect(e instanceof RecordError || e instanceof SignatureError || e instanceof MalformedError).toBe(
          true,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('non-canonical bytes: an extra space, reordered keys, a pretty-printed record', () => {
    const text = fromUtf8(ballot);
    expectCode(utf8(text.replace('"body":', '"body": ')), 'non_canonical');
    expectCode(utf8(' ' + text), 'non_canonical');
    const o = parse(ballot);
    const reordered = JSON.stringify({
      v: o.v,
      type: o.type,
      election: o.election,
      body: o.body,
      signer: o.signer,
      sig: o.sig,
    });
    expectCode(utf8(reordered), 'non_canonical');
    expectCode(utf8(JSON.stringify(o, null, 2)), 'non_canonical');
    // Duplicate field (the JSON parser would keep the last).
    expectCode(utf8(text.replace('{"body":', '{"body":{},"body":')), 'non_canonical');
    // A non-canonical number spelling.
    const tally = fromUtf8(samples.tally[0]);
    expectCode(utf8(tally.replace('"size":5', '"size":5.0')), 'non_canonical');
  });

  it('invalid UTF-8 or JSON: MalformedError', () => {
    expect(decodeError(Uint8Array.of(0x7b, 0xff, 0x7d))).toBeInstanceOf(MalformedError);
    expect(decodeError(utf8('{"v":1'))).toBeInstanceOf(MalformedError);
    expect(decodeError(utf8('[]'))).toBeInstanceOf(RecordError); // valid JSON, wrong type
  });

  it('a record over 65,535 bytes: too_large, before parsing', () => {
    expectCode(new Uint8Array(MAX_RECORD_SIZE + 1), 'too_large');
    // A credentials record too big for one entry: refused by signRecord too.
    const many = Array.from({ length: LIMITS.credentialsPerRecord }, (_, i) => ({
      key: testKey(`big-${i}`).key,
      district: 'north-1-with-a-long-name',
    }));
    expect(() =>
      signRecord(
        { v: 1, type: 'credentials', election: f.id, body: { credentials: many } },
        f.registrar.seed,
      ),
    ).toThrow(expect.objectContaining({ code: 'too_large' }));
  });

  it('an oversize ciphertext: too_large; exactly 8 KiB is fine', () => {
    const big = (n: number) =>
      mutate(
        ballot,
        (e) => ((e.body as { ciphertext: string }).ciphertext = toBase64(new Uint8Array(n))),
        voter.seed,
      );
    expect(() => decodeRecord(big(LIMITS.ciphertext))).not.toThrow();
    expectCode(big(LIMITS.ciphertext + 1), 'too_large');
    expectCode(big(3 * LIMITS.ciphertext), 'too_large');
    expectCode(big(0), 'bad_value');
  });

  type Case = [name: string, bytes: () => Uint8Array, code: RecordErrorCode];
  const bal = (edit: (e: { [k: string]: unknown }, body: { [k: string]: unknown }) => void) => () =>
    mutate(ballot, (e) => edit(e, e.body as { [k: string]: unknown }), voter.seed);
  const elec = (edit: (body: { [k: string]: unknown }) => void) => () =>
    mutate(election, (e) => edit(e.body as { [k: string]: unknown }), f.authority.seed);
  const rep = (edit: (body: { [k: string]: unknown }) => void) => () =>
    mutate(samples.report[0], (e) => edit(e.body as { [k: string]: unknown }), f.reporters.national.seed);
  const districtsOf = (b: { [k: string]: unknown }) => b.districts as { [k: string]: unknown }[];

  const cases: Case[] = [
    // Envelope.
    ['an unknown envelope field', bal((e) => (e.extra = 1)), 'unknown_field'],
    ['a missing envelope field', bal((e) => delete e.body), 'missing_field'],
    ['v = 2', bal((e) => (e.v = 2)), 'bad_version'],
    ['v as a string', bal((e) => (e.v = '1')), 'bad_version'],
    ['an unknown type', bal((e) => (e.type = 'vote')), 'unknown_type'],
    ['type as a number', bal((e) => (e.type = 3)), 'bad_type'],
    ['an upper-case election id', bal((e) => (e.election = 'SE-2026')), 'bad_id'],
    ['an election id with a slash', bal((e) => (e.election = 'se/2026')), 'bad_id'],
    ['an election id of 65 characters', bal((e) => (e.election = 'a'.repeat(65))), 'bad_id'],
    ['an empty election id', bal((e) => (e.election = '')), 'bad_id'],
    ['an election id starting with a dot', bal((e) => (e.election = '.se')), 'bad_id'],
    ['the envelope as an array', () => canonicalBytes([voter.key]), 'bad_type'],
    ['a body that is a string', bal((e) => (e.body = 'x')), 'bad_type'],
    ['a signer of 31 bytes', bal((e) => (e.signer = toBase64(new Uint8Array(31)))), 'bad_key'],
    ['a signer in unpadded base64', bal((e) => (e.signer = voter.key.slice(0, -1))), 'bad_key'],
    // Ballot.
    ['an unknown body field', bal((_e, b) => (b.weight = 2)), 'unknown_field'],
    ['a missing body field', bal((_e, b) => delete b.ciphertext), 'missing_field'],
    ['contests as a string', bal((_e, b) => (b.contests = 'riksdag')), 'bad_type'],
    ['no contests', bal((_e, b) => (b.contests = [])), 'bad_value'],
    ['a repeated contest', bal((_e, b) => (b.contests = ['riksdag', 'riksdag'])), 'duplicate'],
    ['a bad contest id', bal((_e, b) => (b.contests = ['Riksdag'])), 'bad_id'],
    [
      '65 contests',
      bal((_e, b) => (b.contests = Array.from({ length: 65 }, (_, i) => `c${i}`))),
      'too_large',
    ],
    ['a ciphertext that is not base64', bal((_e, b) => (b.ciphertext = 'not base64!')), 'bad_value'],
    ['a ciphertext with non-zero trailing bits', bal((_e, b) => (b.ciphertext = 'AB==')), 'bad_value'],
    ['a ciphertext as a byte array', bal((_e, b) => (b.ciphertext = [1, 2])), 'bad_type'],
    // Election.
    ['an election whose id differs from the envelope', elec((b) => (b.id = 'other')), 'bad_value'],
    ['an election with an unknown field', elec((b) => (b.start = '2026-09-13')), 'unknown_field'],
    ['an election without roles', elec((b) => delete b.roles), 'missing_field'],
    ['a title of 257 characters', elec((b) => (b.title = 'x'.repeat(257))), 'too_large'],
    ['an empty title', elec((b) => (b.title = '')), 'bad_value'],
    ['a title with a control character', elec((b) => (b.title = 'a\nb')), 'bad_value'],
    [
      'a repeated contest id',
      elec((b) => (b.contests = [...(b.contests as unknown[]), (b.contests as unknown[])[0]])),
      'duplicate',
    ],
    [
      'a repeated option id',
      elec((b) => {
        const c = (b.contests as { options: unknown[] }[])[0]!;
        c.options = [...c.options, c.options[0]];
      }),
      'duplicate',
    ],
    ['zero seats', elec((b) => ((b.contests as { seats: number }[])[0]!.seats = 0)), 'bad_value'],
    ['1.5 seats', elec((b) => ((b.contests as { seats: number }[])[0]!.seats = 1.5)), 'bad_value'],
    ...(
      [
        ['a method that is a string', 'sainte-lague', 'bad_type'],
        ['an unknown method', { name: "d'hondt" }, 'bad_value'],
        ['a method without a name', { threshold: 0.04 }, 'missing_field'],
        ['a method with an unknown field', { name: 'dhondt', quota: 'droop' }, 'unknown_field'],
        ['a first divisor for d’Hondt', { name: 'dhondt', firstDivisor: 1.4 }, 'bad_value'],
        ['a first divisor below 1', { name: 'sainte-lague', firstDivisor: 0.9 }, 'bad_value'],
        ['a first divisor of 5 places', { name: 'sainte-lague', firstDivisor: 1.00001 }, 'bad_value'],
        ['a first divisor as a string', { name: 'sainte-lague', firstDivisor: '1.2' }, 'bad_type'],
        ['a threshold of 0', { name: 'dhondt', threshold: 0 }, 'bad_value'],
        ['a threshold of 1', { name: 'dhondt', threshold: 1 }, 'bad_value'],
        ['a threshold for plurality', { name: 'plurality', threshold: 0.04 }, 'bad_value'],
        ['an unknown tie rule', { name: 'dhondt', ties: 'age' }, 'bad_value'],
        [
          'a constituency threshold without constituencies',
          { name: 'dhondt', constituencyThreshold: 0.12 },
          'bad_value',
        ],
        [
          'a constituency that is no district',
          { name: 'dhondt', constituencies: { east: 10 } },
          'bad_reference',
        ],
        [
          'a constituency inside another',
          { name: 'dhondt', constituencies: { north: 10, 'north-1': 5 } },
          'bad_tree',
        ],
        [
          'more fixed seats than seats',
          { name: 'dhondt', constituencies: { north: 200, south: 150 } },
          'bad_value',
        ],
        ['negative fixed seats', { name: 'dhondt', constituencies: { north: -1 } }, 'bad_value'],
      ] as const
    ).map(
      ([name, method, code]) =>
        [name, elec((b) => ((b.contests as { method: unknown }[])[0]!.method = method)), code] as Case,
    ),
    [
      'plurality with more seats than options',
      elec((b) => {
        const c = (b.contests as { seats: number; method: unknown }[])[1]!;
        c.seats = 3;
      }),
      'bad_value',
    ],
    ['an unknown revoting policy', elec((b) => (b.revoting = 'first')), 'bad_value'],
    [
      'a repeated district id',
      elec((b) => (b.districts = [...districtsOf(b), districtsOf(b)[1]])),
      'duplicate',
    ],
    ['two roots', elec((b) => (districtsOf(b)[1]!.parent = null)), 'bad_tree'],
    ['no root', elec((b) => (districtsOf(b)[0]!.parent = 'north')), 'bad_tree'],
    [
      'a cycle beside the root',
      elec((b) => {
        districtsOf(b)[3]!.parent = 'north-2';
        districtsOf(b)[4]!.parent = 'north-1';
      }),
      'bad_tree',
    ],
    ['a parent not listed', elec((b) => (districtsOf(b)[3]!.parent = 'east')), 'bad_reference'],
    [
      'a tree 17 levels deep',
      elec((b) => {
        b.districts = [
          { id: 'd0', name: 'd0', parent: null, electorate: 1 },
          ...Array.from({ length: 16 }, (_, i) => ({
            id: `d${i + 1}`,
            name: 'd',
            parent: `d${i}`,
            electorate: 1,
          })),
        ];
        (b.roles as { reporters: unknown[] }).reporters = [];
      }),
      'bad_tree',
    ],
    ['a negative electorate', elec((b) => (districtsOf(b)[1]!.electorate = -1)), 'bad_value'],
    ['an electorate as a string', elec((b) => (districtsOf(b)[1]!.electorate = '500')), 'bad_type'],
    ['a parent that is not an id', elec((b) => (districtsOf(b)[1]!.parent = 'SE')), 'bad_id'],
    [
      'a reporter over an unlisted district',
      elec((b) => ((b.roles as { reporters: { district: string }[] }).reporters[0]!.district = 'east')),
      'bad_reference',
    ],
    [
      'a repeated reporter entry',
      elec((b) => {
        const r = (b.roles as { reporters: unknown[] }).reporters;
        r.push(r[0]);
      }),
      'duplicate',
    ],
    [
      'a registrar key that is not base64',
      elec((b) => ((b.roles as { registrar: string }).registrar = 'registrar')),
      'bad_key',
    ],
    [
      'a counter key of 33 bytes',
      elec((b) => ((b.roles as { counter: string }).counter = toBase64(new Uint8Array(33)))),
      'bad_key',
    ],
    // Districts.
    [
      'a districts record with a root',
      () =>
        signUnchecked(
          {
            v: 1,
            type: 'districts',
            election: f.id,
            body: { districts: [{ id: 'x', name: 'x', parent: null, electorate: 1 }] },
          },
          f.authority.seed,
        ),
      'bad_tree',
    ],
    // Credentials.
    [
      'a credential weight of 0',
      () =>
        signUnchecked(
          {
            v: 1,
            type: 'credentials',
            election: f.id,
            body: { credentials: [{ key: voter.key, district: 'north-1', weight: 0 }] },
          },
          f.registrar.seed,
        ),
      'bad_value',
    ],
    [
      'no credentials',
      () =>
        signUnchecked(
          { v: 1, type: 'credentials', election: f.id, body: { credentials: [] } },
          f.registrar.seed,
        ),
      'bad_value',
    ],
    // Phase.
    [
      'an unknown phase',
      () =>
        signUnchecked({ v: 1, type: 'phase', election: f.id, body: { phase: 'setup' } }, f.authority.seed),
      'bad_value',
    ],
    // Report.
    ['a negative count', rep((b) => ((b.counts as { s: number }).s = -1)), 'bad_value'],
    ['a fractional count', rep((b) => ((b.counts as { s: number }).s = 2.5)), 'bad_value'],
    ['a count beyond 2^53', rep((b) => ((b.counts as { s: number }).s = 2 ** 53)), 'bad_value'],
    ['a count as a string', rep((b) => ((b.counts as { s: unknown }).s = '10')), 'bad_type'],
    ['a negative blank count', rep((b) => (b.blank = -3)), 'bad_value'],
    ['an option id that is not an id', rep((b) => ((b.counts as { [k: string]: number }).S = 1)), 'bad_id'],
    ['empty counts', rep((b) => (b.counts = {})), 'bad_value'],
    ['an unknown stage', rep((b) => (b.stage = 'draft')), 'bad_value'],
    [
      'an upper-case protocol hash',
      rep((b) => (b.protocol = (b.protocol as string).toUpperCase())),
      'bad_value',
    ],
    ['a short protocol hash', rep((b) => (b.protocol = 'abcd')), 'bad_value'],
    // Tally.
    [
      'a tally of size 0',
      () => mutate(samples.tally[0], (e) => ((e.body as { size: number }).size = 0), f.counter.seed),
      'bad_value',
    ],
    [
      'a tally root of 31 bytes',
      () =>
        mutate(
          samples.tally[0],
          (e) => ((e.body as { root: string }).root = toBase64(new Uint8Array(31))),
          f.counter.seed,
        ),
      'bad_value',
    ],
    [
      'a tally without a seed',
      () => mutate(samples.tally[0], (e) => setPath(e.body, 'seed', undefined), f.counter.seed),
      'missing_field',
    ],
    [
      'a tally in phase open',
      () => mutate(samples.tally[0], (e) => setPath(e.body, 'phase', 'open'), f.counter.seed),
      'bad_value',
    ],
    [
      'a tally with an unknown field in a contest',
      () => mutate(samples.tally[0], (e) => setPath(e.body, 'contests.riksdag.extra', 1), f.counter.seed),
      'unknown_field',
    ],
    [
      'a tally with a negative count',
      () =>
        mutate(
          samples.tally[0],
          (e) => setPath(e.body, 'contests.riksdag.counted.votes.s', -1),
          f.counter.seed,
        ),
      'bad_value',
    ],
    [
      'a tally with a fractional seat',
      () =>
        mutate(
          samples.tally[0],
          (e) => setPath(e.body, 'contests.riksdag.seats.seats.s', 0.5),
          f.counter.seed,
        ),
      'bad_value',
    ],
    [
      'a tally with provisional as a string',
      () =>
        mutate(
          samples.tally[0],
          (e) => setPath(e.body, 'contests.riksdag.provisional', 'yes'),
          f.counter.seed,
        ),
      'bad_type',
    ],
    [
      'a tally with a malformed lot',
      () =>
        mutate(
          samples.tally[0],
          (e) => setPath(e.body, 'contests.riksdag.seats.lots', [{ scope: 'riksdag', tied: ['s'] }]),
          f.counter.seed,
        ),
      'missing_field',
    ],
    [
      'a tally with no contests',
      () => mutate(samples.tally[0], (e) => setPath(e.body, 'contests', {}), f.counter.seed),
      'bad_value',
    ],
    // Override.
    [
      'an override of a malformed credential',
      () =>
        mutate(
          samples.override[0],
          (e) => ((e.body as { credential: string }).credential = 'x'),
          f.reporters.north.seed,
        ),
      'bad_key',
    ],
  ];

  it.each(cases.map(([name, make, code]) => ({ name, make, code })))('$name → $code', ({ make, code }) => {
    expectCode(make(), code);
  });

  it('ciphertext base64 is accepted exactly when fromBase64 accepts it (canonical, padded)', () => {
    const b64 = fc
      .array(fc.constantFrom(...'AQgwBEIMUYcksoz0489+/=='), { maxLength: 12 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(b64, (text) => {
        const bytes = mutate(
          ballot,
          (e) => ((e.body as { ciphertext: string }).ciphertext = text),
          voter.seed,
        );
        let expected: string | undefined;
        try {
          expected = fromBase64(text).length === 0 ? 'bad_value' : undefined;
        } catch {
          expected = 'bad_value';
        }
        if (expected === undefined) expect(() => decodeRecord(bytes)).not.toThrow();
        else expectCode(bytes, 'bad_value');
      }),
      { numRuns: 300 },
    );
  });

  it('a sig that is not 64 bytes of base64: bad_value', () => {
    const o = parse(ballot);
    o.sig = toBase64(new Uint8Array(63));
    expectCode(canonicalBytes(o), 'bad_value');
    o.sig = 5;
    expectCode(canonicalBytes(o), 'bad_type');
  });

  it('signRecord validates before signing and checks the seed', () => {
    expect(() => f.election({ title: 'a\uD800' })).toThrow(expect.objectContaining({ code: 'bad_value' }));
    expect(() =>
      signRecord(
        { v: 1, type: 'phase', election: f.id, body: { phase: 'reopen' } } as unknown as UnsignedRecord,
        f.authority.seed,
      ),
    ).toThrow(RecordError);
    expect(() =>
      signRecord(
        {
          v: 1,
          type: 'phase',
          election: f.id,
          body: { phase: 'open' },
          sig: 'x',
        } as unknown as UnsignedRecord,
        f.authority.seed,
      ),
    ).toThrow(RecordError);
    expect(() =>
      signRecord({ v: 1, type: 'phase', election: f.id, body: { phase: 'open' } }, new Uint8Array(31)),
    ).toThrow(RangeError);
  });

  it('decodeRecord and ballotTracker throw TypeError for a non-Uint8Array', () => {
    expect(() => decodeRecord('{}' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => ballotTracker([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });
});
