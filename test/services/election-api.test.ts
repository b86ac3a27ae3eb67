/**
 * The election rules at the sequencer, over HTTP: every rejection of the
 * shared table (test/helpers/rule-cases.ts) returns its code and status and
 * leaves the log and its projections unchanged; a whole election night is
 * admitted, and replaying the log's entries with the ledger's rules gives
 * byte-identical projections; the election read API.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decryptionBody } from '../../ledger/encrypted-election.js';
import { ballotTracker } from '../../ledger/record.js';
import { stateKey, type EncryptedSumState } from '../../ledger/rules.js';
import { buildElection, logAt, RecordLog, TEST_LOG } from '../helpers/election.js';
import { openElectionLog } from '../helpers/log.js';
import { keyCeremony } from '../helpers/encrypted-election.js';
import { editBody, rows } from '../helpers/rule-cases.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

async function electionLog() {
  const log = await openElectionLog();
  closers.push(log.close);
  return log;
}

describe('admission over HTTP: the rejection table', () => {
  // Rows whose setup edits the state directly (not reachable by records) run at the ledger level only.
  const reachable = rows.filter((r) => !r.stateShortcut);

  it('runs every row of the table but the state shortcuts', () => {
    expect(rows.length - reachable.length).toBe(1);
  });

  it.each(reachable)('$name → $code ($status), log unchanged', async ({ setup, record, code, status }) => {
    const model = setup();
    const bytes = record(model); // may add records to the model (e.g. a first ballot)
    const log = await electionLog();
    for (const [i, entry] of model.records.entries()) {
      const res = await log.post(entry);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().index).toBe(i);
    }
    const before = await log.projections();
    const res = await log.post(bytes);
    const earlier = model.records.findIndex((e) => Buffer.compare(Buffer.from(e), Buffer.from(bytes)) === 0);
    if (earlier >= 0) {
      // Identical bytes again: the log answers idempotently with the same index
      // (DESIGN.md "Errors") before the rules would reject the duplicate.
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ index: earlier, duplicate: true });
    } else {
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json().error.code).toBe(code);
      expect(res.json().error.message.length).toBeGreaterThan(0);
    }
    await log.sequencer.tick();
    expect(log.sequencer.head.size).toBe(model.records.length);
    expect(await log.projections()).toEqual(before);
  });
});

describe('an election night through the sequencer', () => {
  const f = buildElection({ id: 'night-2026', voters: 40 });

  it('admits it, serves the read API, and replay by the rules agrees byte for byte', async () => {
    const log = await electionLog();
    expect((await log.app.inject('/authorities')).statusCode).toBe(404); // no log record yet
    const model = logAt(f, 'open');
    for (const bytes of model.records) expect((await log.post(bytes)).statusCode).toBe(201);
    expect((await log.app.inject('/authorities')).json()).toEqual({
      origin: TEST_LOG.origin,
      authorities: f.authorities,
      records: [0],
      open: 1,
    });
    // Ballots, re-votes (several per batch: later ones see earlier ones), an override.
    const ballots = f.voters.map((v) => f.ballot(v));
    const revotes = f.voters.slice(0, 10).map((v) => f.ballot(v));
    const results = await Promise.all([...ballots, ...revotes].map((b) => log.post(b)));
    await log.sequencer.tick();
    for (const r of await Promise.all(results)) expect(r.statusCode, r.body).toBe(201);
    expect((await log.post(f.override(f.voters[20]!, f.reporters.national))).statusCode).toBe(201);
    expect((await log.post(f.phase('close'))).statusCode).toBe(201);
    for (const d of ['north-1', 'north-2', 'south-1', 'south-2']) {
      const res = await log.post(
        f.report(d, 'referendum', 'preliminary', { yes: 10, no: 5 }, { by: f.reporters.national }),
      );
      expect(res.statusCode, res.body).toBe(201);
    }
    const correction = await log.post(
      f.report('north-1', 'referendum', 'preliminary', { yes: 11, no: 5 }, { by: f.reporters.north }),
    );
    expect(correction.statusCode, correction.body).toBe(201);

    // Read API.
    const summary = (await log.app.inject(`/elections/${f.id}`)).json();
    expect(summary).toMatchObject({ phase: 'close' });
    const first = ballotTracker(ballots[0]!);
    expect((await log.app.inject(`/ballots/${first}`)).json()).toMatchObject({ status: 'superseded' });
    const last = ballotTracker(revotes[0]!);
    expect((await log.app.inject(`/ballots/${last}`)).json()).toMatchObject({ status: 'included' });
    expect((await log.app.inject(`/ballots/${ballotTracker(ballots[20]!)}`)).json()).toMatchObject({
      status: 'overridden',
    });
    expect((await log.app.inject(`/ballots/${'0'.repeat(64)}`)).statusCode).toBe(404);
    expect((await log.app.inject(`/ballots/xyz`)).statusCode).toBe(400);
    expect((await log.app.inject(`/elections/nope`)).statusCode).toBe(404);
    const genesis = (await log.app.inject('/records/0')).json();
    expect(genesis).toMatchObject({
      index: 0,
      record: { type: 'log', body: { authorities: f.authorities } },
    });
    const rec = (await log.app.inject('/records/1')).json();
    expect(rec).toMatchObject({ index: 1, record: { type: 'election', election: f.id } });
    expect((await log.app.inject('/records/999999')).statusCode).toBe(404);

    // A tally bound to the current tree, then the final phase.
    const counted = new RecordLog(f.authorities, { genesis: false });
    counted.accept(...(await log.entries()));
    const tally = await log.post(f.tally(counted));
    expect(tally.statusCode, tally.body).toBe(201);
    expect((await log.post(f.phase('final'))).statusCode).toBe(201);

    // Replay every entry with the ledger's rules: all admitted, same projections.
    const { rejected, state } = await log.replayLog();
    expect(rejected).toEqual([]);
    expect(await log.projections()).toEqual(state);
  });
});

describe('an encrypted election through the sequencer', () => {
  const f = buildElection({ id: 'enc-night', voters: 16, guardians: { count: 3, quorum: 2 } });
  const c = keyCeremony(f);

  it("verifies ballots' proofs on the worker pool, refuses a bad one, and replay by the rules agrees byte for byte", async () => {
    const log = await electionLog();
    for (const bytes of logAt(f, 'open').records) expect((await log.post(bytes)).statusCode).toBe(201);
    const verdicts: boolean[] = [];
    const verify = log.pool.verifyProofs.bind(log.pool);
    log.pool.verifyProofs = async (item) => {
      const ok = await verify(item);
      verdicts.push(ok);
      return ok;
    };
    const ballots = f.voters.map((v) => c.ballot(v));
    const revotes = f.voters.slice(0, 4).map((v) => c.ballot(v, { riksdag: { m: 1 } }));
    // voters[5]'s ballot with its first option's β replaced (by the second option's α): its proofs fail.
    const forged = editBody(c.ballot(f.voters[5]!), f.voters[5]!.seed, (b) => {
      const [first, second] = (b as { encrypted: Array<{ options: Array<{ alpha: string; beta: string }> }> })
        .encrypted[0]!.options;
      first!.beta = second!.alpha;
    });
    const results = await Promise.all([...ballots, forged].map((b) => log.post(b)));
    for (const r of results.slice(0, -1)) expect(r.statusCode, r.body).toBe(201);
    expect(results.at(-1)!.statusCode).toBe(422);
    expect(results.at(-1)!.json().error.code).toBe('invalid_proof');
    for (const r of await Promise.all(revotes.map((b) => log.post(b))))
      expect(r.statusCode, r.body).toBe(201);
    expect((await log.post(f.override(f.voters[9]!, f.reporters.national))).statusCode).toBe(201);
    // Every ballot was verified on the pool (the forged one too), and only the forged one failed.
    expect(verdicts.length).toBe(ballots.length + revotes.length + 1);
    expect(verdicts.filter((ok) => !ok)).toHaveLength(1);
    const { rejected, state } = await log.replayLog();
    expect(rejected).toEqual([]);
    expect(await log.projections()).toEqual(state);
    expect([...state.keys()].filter((k) => k.startsWith('esum/enc-night/')).sort()).toEqual(
      ['north-1', 'north-2', 'south-1', 'south-2'].map((d) => `esum/enc-night/${d}`),
    );
  });

  it("verifies guardians' decryptions on the worker pool, refuses a cheater's naming it, and counts once a quorum decrypted", async () => {
    const log = await electionLog();
    const model = logAt(f, 'open');
    model.accept(...f.voters.map((v) => c.ballot(v)), f.phase('close'));
    for (const bytes of model.records) expect((await log.post(bytes)).statusCode).toBe(201);
    await log.sequencer.tick();
    const items: unknown[] = [];
    const verify = log.pool.verifyProofs.bind(log.pool);
    log.pool.verifyProofs = async (item) => (items.push(item), await verify(item));
    const districts = ['north-1', 'north-2', 'south-1', 'south-2'];
    const sumsOf = (d: string) => model.state.read(stateKey.encryptedSum(f.id, d)) as EncryptedSumState;
    // Guardian 2 decrypts with a wrong key share: refused, named, and the log unchanged.
    const sealed = Object.fromEntries(Object.entries(sumsOf('north-1').contests).map(([k, x]) => [k, x.sum]));
    const cheat = c.decryption(
      2,
      'north-1',
      sumsOf('north-1'),
      decryptionBody(2, c.keyShare(2) + 1n, 'north-1', sumsOf('north-1').changed, sealed, c.hash),
    );
    const size = log.sequencer.head.size;
    const refused = await log.post(cheat);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error).toMatchObject({
      code: 'invalid_proof',
      message: expect.stringMatching(/guardian 2/),
    });
    await log.sequencer.tick();
    expect(log.sequencer.head.size).toBe(size);
    // Guardians 1 and 3 decrypt every district, all at once.
    const decryptions = districts.flatMap((d) => [1, 3].map((g) => c.decryption(g, d, sumsOf(d))));
    for (const r of await Promise.all(decryptions.map((b) => log.post(b))))
      expect(r.statusCode, r.body).toBe(201);
    expect(items).toHaveLength(1 + decryptions.length); // every decryption verified on the pool
    const { rejected, state } = await log.replayLog();
    expect(rejected).toEqual([]);
    expect(await log.projections()).toEqual(state);
    for (const d of districts) {
      const sums = JSON.parse(state.get(stateKey.encryptedSum(f.id, d))!) as EncryptedSumState;
      const voters = f.voters.filter((v) => v.district === d).length;
      expect(sums.votes, d).toEqual({
        riksdag: { s: voters, m: 0, sd: 0, c: 0 },
        referendum: { yes: voters, no: 0 },
      });
    }
  });
});

describe('GET /elections/<id>/ceremony', () => {
  const f = buildElection({ id: 'enc-ceremony', voters: 4, guardians: { count: 3, quorum: 2 } });
  const plain = buildElection({ id: 'plain-ceremony', voters: 4, label: 'enc-ceremony' }); // the same authority

  it("serves an encrypted election's ceremony state as the records make it, and 404 otherwise", async () => {
    const log = await electionLog();
    const model = logAt(f, 'setup');
    for (const bytes of model.records) expect((await log.post(bytes)).statusCode).toBe(201);
    const at = model.records.length;
    const c = keyCeremony(f);
    const get = () => log.app.inject('/elections/enc-ceremony/ceremony');
    expect((await get()).json()).toEqual({
      guardians: {},
      shares: {},
      accepted: {},
      key: expect.any(String),
    });
    const records = c.records();
    for (const bytes of records) expect((await log.post(bytes)).statusCode).toBe(201);
    const state = (await get()).json();
    expect(Object.values(state.guardians).map((g) => (g as { record: number }).record)).toEqual([
      at,
      at + 1,
      at + 2,
    ]);
    expect(state.shares).toEqual({ 1: at + 3, 2: at + 4, 3: at + 5 });
    expect(state.accepted).toEqual({ 1: at + 6, 2: at + 7, 3: at + 8 });
    expect(state.key).toBe(c.keyB64);
    expect((await log.app.inject('/elections/enc-ceremony')).json().key).toBe(c.keyB64);

    expect((await log.post(plain.election())).statusCode).toBe(201);
    const unencrypted = await log.app.inject('/elections/plain-ceremony/ceremony');
    expect(unencrypted.statusCode).toBe(404);
    expect(unencrypted.json().error.message).toMatch(/no guardians/);
    const unknown = await log.app.inject('/elections/nowhere/ceremony');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toMatch(/no election nowhere/);
  });
});
