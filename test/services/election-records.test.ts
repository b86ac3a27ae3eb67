// Splitting an election manifest's district tree into an `election` record
// and `districts` records, and packing credentials: every record within the
// limits, parents before children, nothing lost or repeated, and the rules
// accept the records in order.
import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../ledger/bytes.js';
import { generateSignerKey, parseVerifierKey } from '../../ledger/note.js';
import {
  LIMITS,
  MAX_RECORD_SIZE,
  signRecord,
  type DistrictDef,
  type ElectionBody,
  type UnsignedRecord,
} from '../../ledger/record.js';
import {
  credentialRecords,
  districtsInTreeOrder,
  packItems,
  planElection,
  recordKey,
  signedSize,
} from '../../services/cli/election-records.js';
import { DemoElection } from '../../services/cli/demo-plan.js';
import { buildElection, RecordLog, testKey } from '../helpers/election.js';

const authority = testKey('records/authority');

function districtsOf(r: UnsignedRecord): DistrictDef[] {
  return (r.body as { districts: DistrictDef[] }).districts;
}

/** A Swedish-sized manifest (6,004 polling districts, 6,316 districts in all) from the demo generator. */
function bigManifest(): ElectionBody {
  return new DemoElection({ seed: 'records', authority: authority.seed, voters: 0 }).body;
}

describe('signedSize', () => {
  it('is exactly the size of the signed record', () => {
    const f = buildElection();
    const unsigned: UnsignedRecord = { v: 1, type: 'election', election: f.id, body: f.body };
    expect(signedSize(unsigned)).toBe(signRecord(unsigned, authority.seed).length);
  });
});

describe('packItems', () => {
  it('keeps the order, respects both limits, and fills each chunk as far as it goes', () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ id: `item-${i}`, pad: 'x'.repeat(i % 7) }));
    const base = 20;
    for (const [maxItems, maxSize] of [
      [7, 10_000],
      [1000, 300],
      [3, 120],
    ] as const) {
      const chunks = packItems(items, base, maxItems, maxSize);
      expect(chunks.flat()).toEqual(items);
      const size = (chunk: unknown[]) => base + JSON.stringify(chunk).length - 2;
      chunks.forEach((chunk, i) => {
        expect(chunk.length).toBeLessThanOrEqual(maxItems);
        expect(size(chunk)).toBeLessThanOrEqual(maxSize);
        const next = chunks[i + 1]?.[0];
        if (next) expect(chunk.length === maxItems || size([...chunk, next]) > maxSize).toBe(true);
      });
    }
  });

  it('refuses an item that fits in no chunk', () => {
    expect(() => packItems([{ big: 'x'.repeat(100) }], 10, 5, 50)).toThrow(RangeError);
  });
});

describe('planElection', () => {
  it('splits 6,316 districts into records the rules accept in order, parents first', () => {
    const body = bigManifest();
    expect(body.districts.length).toBe(1 + 21 + 290 + 6004);
    const plan = planElection(body);
    const records = [plan.election, ...plan.districts];
    const signed = records.map((r) => signRecord(r, authority.seed));
    for (const bytes of signed) expect(bytes.length).toBeLessThanOrEqual(MAX_RECORD_SIZE);
    for (const r of records) expect(districtsOf(r).length).toBeLessThanOrEqual(LIMITS.districtsPerRecord);
    // Dense: each record but the last is close to full.
    for (const bytes of signed.slice(0, -1)) expect(bytes.length).toBeGreaterThan(MAX_RECORD_SIZE - 200);
    // Every district exactly once, each after its parent.
    const all = records.flatMap(districtsOf);
    expect(all.map((d) => d.id).sort()).toEqual(body.districts.map((d) => d.id).sort());
    const seen = new Set<string>();
    for (const d of all) {
      if (d.parent !== null) expect(seen.has(d.parent)).toBe(true);
      seen.add(d.id);
    }
    // The election record resolves its reporters' districts itself.
    const inElection = new Set(districtsOf(plan.election).map((d) => d.id));
    for (const r of body.roles.reporters) expect(inElection.has(r.district)).toBe(true);
    // And the rules accept them all.
    const log = new RecordLog([authority.key]);
    log.accept(...signed);
  });

  it('puts a reporter district found late in the tree, and its ancestors, into the election record', () => {
    const body = bigManifest();
    const last = body.districts.at(-1)!;
    const municipality = body.districts.find((d) => d.id === last.parent)!;
    const reporter = { key: testKey('records/deep-reporter').key, district: last.id };
    const plan = planElection({ ...body, roles: { ...body.roles, reporters: [reporter] } });
    const ids = districtsOf(plan.election).map((d) => d.id);
    expect(ids).toContain(last.id);
    expect(ids).toContain(municipality.id);
    expect(ids).toContain(municipality.parent);
    const log = new RecordLog([authority.key]);
    log.accept(...[plan.election, ...plan.districts].map((r) => signRecord(r, authority.seed)));
  });

  it('makes a single election record when everything fits', () => {
    const f = buildElection();
    const plan = planElection(f.body);
    expect(plan.districts).toEqual([]);
    expect(districtsOf(plan.election)).toHaveLength(f.body.districts.length);
  });

  it('rejects districts that are not one tree', () => {
    const d = (id: string, parent: string | null): DistrictDef => ({ id, name: id, parent, electorate: 1 });
    expect(() => districtsInTreeOrder([d('a', null), d('b', null)])).toThrow(/exactly one root/);
    expect(() => districtsInTreeOrder([d('a', 'b')])).toThrow(/exactly one root, found 0/);
    expect(() => districtsInTreeOrder([d('r', null), d('a', 'b'), d('b', 'a')])).toThrow(/cycle/);
    expect(() => districtsInTreeOrder([d('r', null), d('a', 'zz')])).toThrow(/unknown parent zz/);
    expect(() => districtsInTreeOrder([d('r', null), d('r', 'r')])).toThrow(/twice/);
    const f = buildElection();
    const roles = { ...f.body.roles, reporters: [{ key: f.reporters.north.key, district: 'nowhere' }] };
    expect(() => planElection({ ...f.body, roles })).toThrow(/nowhere/);
  });
});

describe('credentialRecords', () => {
  it('packs 2,000 credentials into dense records that the rules accept', () => {
    const f = buildElection();
    const creds = Array.from({ length: 2000 }, (_, i) => ({
      key: testKey(`records/credential-${i}`).key,
      district: f.voters[i % f.voters.length]!.district,
    }));
    const records = [...credentialRecords(f.id, creds)];
    expect(records.length).toBeGreaterThan(1);
    expect(records.flatMap((r) => (r.body as { credentials: unknown[] }).credentials)).toEqual(creds);
    const signed = records.map((r) => signRecord(r, f.registrar.seed));
    for (const bytes of signed) expect(bytes.length).toBeLessThanOrEqual(MAX_RECORD_SIZE);
    for (const bytes of signed.slice(0, -1)) expect(bytes.length).toBeGreaterThan(MAX_RECORD_SIZE - 100);
    const log = new RecordLog(f.authorities);
    log.accept(f.election(), ...signed);
  });
});

describe('recordKey', () => {
  it('turns a verifier key into the base64 key records carry, and leaves base64 keys alone', () => {
    const { verifierKey } = generateSignerKey('registrar.example');
    const key = toBase64(parseVerifierKey(verifierKey).publicKey);
    expect(recordKey(verifierKey)).toBe(key);
    expect(recordKey(` ${key}\n`)).toBe(key);
  });
});
