/**
 * Fuzzing the write API (POST /add with the election rules): at least
 * 100,000 random and mutated inputs, bounded in time. Invariants: no crash,
 * no 5xx, every answer is a receipt or a JSON error with a code, and nothing
 * is accepted that the rules reject — replaying every entry of the log with
 * the ledger's rules admits them all and reproduces the stored projections.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../ledger/bytes.js';
import { RECORD_TYPES } from '../../ledger/record.js';
import { buildElection, logAt, signUnchecked, testKey, type TestKey } from '../helpers/election.js';
import { openElectionLog } from '../helpers/log.js';

const INPUTS = 100_000;
const TIME_LIMIT_MS = 300_000;
const CHUNK = 500;

const f = buildElection({ id: 'fuzz-2026', voters: 64 });
const keys: TestKey[] = [
  f.authority,
  f.registrar,
  f.counter,
  f.reporters.national,
  f.reporters.north,
  f.reporters.south,
  f.outsider,
  ...f.voters.slice(0, 8),
  testKey('stranger'),
];
const ids = [
  f.id,
  'other-2026',
  'se',
  'north',
  'north-1',
  'south-2',
  'riksdag',
  'referendum',
  's',
  'yes',
  'no',
  'X',
  '',
];
const types = [...RECORD_TYPES, 'vote'];

/** A JSON value from small domains that hit the rules' edges. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(...ids, ...keys.map((k) => k.key), 'open', 'close', 'final', 'preliminary', 'AAAA'),
    fc.integer({ min: -5, max: 2000 }),
    fc.constantFrom(0.5, 1e300, -0, 2 ** 53),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom(
        'id',
        'district',
        'contest',
        'stage',
        'counts',
        'blank',
        'invalid',
        'key',
        'phase',
        'contests',
        'ciphertext',
        'credential',
        'size',
        'root',
        'results',
        'protocol',
        'x',
      ),
      tie('v'),
      { maxKeys: 5 },
    ),
  ),
})).v;

/** A signed envelope of random content, by one of the election's (or a stranger's) keys. */
const signedRandom = fc
  .record({
    type: fc.constantFrom(...types),
    election: fc.constantFrom(...ids),
    body: value,
    key: fc.constantFrom(...keys),
    v: fc.constantFrom(1, 1, 1, 2),
  })
  .map(({ type, election, body, key, v }) => signUnchecked({ v, type, election, body }, key.seed));

/** A valid record of the election, legal or not at the time it arrives. */
function validRecord(i: number): Uint8Array {
  const voter = f.voters[i % f.voters.length]!;
  switch (i % 7) {
    case 0:
    case 1:
    case 2:
      return f.ballot(voter);
    case 3:
      return f.report(
        voter.district,
        'referendum',
        i % 2 ? 'preliminary' : 'final',
        { yes: i % 50, no: 3 },
        { by: f.reporters.national },
      );
    case 4:
      return f.override(voter, f.reporters.national);
    case 5:
      // Voting stays open for most of the run: close at 80%, final at 95%.
      if (i > INPUTS * 0.95) return f.phase('final');
      if (i > INPUTS * 0.8) return f.phase('close');
      return f.ballot(voter);
    default:
      return f.credentials([{ ...testKey(`late ${i}`), district: 'south-1' }]);
  }
}

/** Mutations of valid bytes: bit flips, truncation, splices, JSON-level edits. */
function mutate(bytes: Uint8Array, rnd: () => number): Uint8Array {
  const b = bytes.slice();
  switch (Math.floor(rnd() * 5)) {
    case 0:
      b[Math.floor(rnd() * b.length)]! ^= 1 << Math.floor(rnd() * 8);
      return b;
    case 1:
      return b.subarray(0, Math.floor(rnd() * b.length));
    case 2:
      return utf8(fromUtf8(b).replace(/[0-9]/, String(Math.floor(rnd() * 10))));
    case 3:
      return utf8(fromUtf8(b).replace('"v":1', '"v":1,"x":0'));
    default:
      return utf8(' ' + fromUtf8(b));
  }
}

let close: (() => Promise<void>) | null = null;
afterAll(async () => close?.());

describe('fuzzing POST /add with the election rules', () => {
  it(`survives ${INPUTS.toLocaleString('en')} random and mutated inputs; accepts nothing the rules reject`, async () => {
    const log = await openElectionLog({ batchPeriodMs: 5, poolSize: 2 });
    close = log.close;
    log.sequencer.start();
    const model = logAt(f, 'open');
    for (const r of model.records) expect((await log.post(r)).statusCode).toBe(201);

    const random = fc.sample(signedRandom, 20_000);
    const garbage = fc.sample(fc.uint8Array({ maxLength: 300 }), 10_000);
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const input = (i: number): Uint8Array => {
      switch (i % 5) {
        case 0:
          return validRecord(i);
        case 1:
          return mutate(validRecord(i), rnd);
        case 2:
          return random[i % random.length]!;
        case 3:
          return garbage[i % garbage.length]!;
        default:
          return mutate(random[i % random.length]!, rnd);
      }
    };

    const statuses = new Map<number, number>();
    const started = Date.now();
    let sent = 0;
    while (sent < INPUTS && Date.now() - started < TIME_LIMIT_MS) {
      const chunk = Array.from({ length: CHUNK }, (_, j) => input(sent + j));
      const responses = await Promise.all(
        chunk.map((bytes) =>
          log.app.inject({
            method: 'POST',
            url: '/add',
            payload: Buffer.from(bytes),
            headers: { 'content-type': 'application/json' },
          }),
        ),
      );
      for (const res of responses) {
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, res.body).toBeLessThan(500);
        const body = res.json();
        if (res.statusCode < 300) expect(typeof body.index).toBe('number');
        else expect(body.error.code, res.body).toMatch(/^[a-z_]+$/);
      }
      sent += CHUNK;
    }
    console.log(`fuzz: ${sent} inputs in ${Date.now() - started} ms, statuses`, Object.fromEntries(statuses));
    expect(sent).toBeGreaterThanOrEqual(INPUTS);
    expect(statuses.get(201) ?? 0).toBeGreaterThan(1000);

    // Replay every entry with the ledger's rules: all admitted, same projections.
    await log.sequencer.stop();
    const { rejected, state } = await log.replayLog();
    expect(rejected).toEqual([]);
    expect(await log.projections()).toEqual(state);
  });
});
