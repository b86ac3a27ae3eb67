/**
 * Building the records of an election for the `urna` clients: packing lists
 * (districts, credentials) into as few records as {@link MAX_RECORD_SIZE} and
 * {@link LIMITS} allow, and splitting a manifest's whole district tree into
 * the `election` record and `districts` records, parents before children.
 * Pure functions: no I/O, deterministic.
 */
import { toBase64 } from '../../ledger/bytes.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import { parseVerifierKey } from '../../ledger/note.js';
import {
  LIMITS,
  MAX_RECORD_SIZE,
  signRecord,
  type CredentialDef,
  type DistrictDef,
  type ElectionBody,
  type UnsignedRecord,
} from '../../ledger/record.js';

// Placeholders as long as a base64 Ed25519 public key (32 bytes) and signature
// (64 bytes): base64 needs no JSON escaping, so the record size is exact.
const SIGNER_PLACEHOLDER = 'A'.repeat(43) + '=';
const SIG_PLACEHOLDER = 'A'.repeat(86) + '==';

/** The size in bytes of `unsigned` once signed (its canonical JSON with `signer` and `sig`). */
export function signedSize(unsigned: UnsignedRecord): number {
  return canonicalBytes({ ...unsigned, signer: SIGNER_PLACEHOLDER, sig: SIG_PLACEHOLDER }).length;
}

/**
 * Splits `items` into consecutive chunks, in order, each of at most
 * `maxItems` items and whose record is at most `maxSize` bytes, where the
 * record with an empty list is `baseSize` bytes and each item adds its
 * canonical JSON (plus a comma after the first). Draws `items` lazily and
 * yields each chunk once full. Throws RangeError if one item alone does not fit.
 */
export function* packItemsLazily<T>(
  items: Iterable<T>,
  baseSize: number,
  maxItems: number,
  maxSize: number = MAX_RECORD_SIZE,
): Generator<T[]> {
  let chunk: T[] = [];
  let size = baseSize;
  for (const item of items) {
    const n = canonicalBytes(item).length;
    if (baseSize + n > maxSize) throw new RangeError(`an item of ${n} bytes does not fit in a record`);
    if (chunk.length > 0 && (chunk.length >= maxItems || size + 1 + n > maxSize)) {
      yield chunk;
      chunk = [];
      size = baseSize;
    }
    size += (chunk.length > 0 ? 1 : 0) + n;
    chunk.push(item);
  }
  if (chunk.length > 0) yield chunk;
}

/** {@link packItemsLazily}, all at once. */
export function packItems<T>(
  items: Iterable<T>,
  baseSize: number,
  maxItems: number,
  maxSize: number = MAX_RECORD_SIZE,
): T[][] {
  return [...packItemsLazily(items, baseSize, maxItems, maxSize)];
}

/**
 * Districts in breadth-first order from the single root (every parent before
 * its children; siblings in their manifest order). Throws Error when the
 * districts are not one tree: no root or several, duplicate ids, unknown
 * parents or cycles (districts not reachable from the root).
 */
export function districtsInTreeOrder(districts: readonly DistrictDef[]): DistrictDef[] {
  const ids = new Set<string>();
  const children = new Map<string, DistrictDef[]>();
  const roots: DistrictDef[] = [];
  for (const d of districts) {
    if (ids.has(d.id)) throw new Error(`district ${d.id} is listed twice`);
    ids.add(d.id);
    if (d.parent === null) roots.push(d);
    else {
      const list = children.get(d.parent) ?? [];
      list.push(d);
      children.set(d.parent, list);
    }
  }
  if (roots.length !== 1) throw new Error(`the districts need exactly one root, found ${roots.length}`);
  const order: DistrictDef[] = [roots[0]!];
  for (let i = 0; i < order.length; i++) order.push(...(children.get(order[i]!.id) ?? []));
  if (order.length !== districts.length) {
    const missing = districts.find((d) => !order.includes(d))!;
    throw new Error(
      ids.has(missing.parent!)
        ? `district ${missing.id} is in a cycle`
        : `district ${missing.id}: unknown parent ${missing.parent}`,
    );
  }
  return order;
}

/** The records defining an election: the `election` record first, then `districts` records. */
export type ElectionPlan = { election: UnsignedRecord; districts: UnsignedRecord[] };

/**
 * Splits an election body holding its whole district tree into an `election`
 * record and `districts` records that the rules accept in this order.
 *
 * The election record holds the root, the districts its reporters are scoped
 * to and their ancestors (the record must resolve them itself), then as many
 * further districts in breadth-first order as fit within MAX_RECORD_SIZE and
 * LIMITS.districtsPerRecord. The rest follow in breadth-first order, packed
 * into `districts` records, so every parent is in the election record, an
 * earlier `districts` record, or earlier in the same record.
 *
 * Throws Error for districts that do not form one tree or a reporter district
 * that is not listed, RangeError when the required districts alone do not fit.
 */
export function planElection(body: ElectionBody): ElectionPlan {
  const order = districtsInTreeOrder(body.districts);
  const byId = new Map(order.map((d) => [d.id, d]));
  const required = new Set<string>([order[0]!.id]);
  for (const r of body.roles.reporters) {
    if (!byId.has(r.district)) throw new Error(`reporter district ${r.district} is not a listed district`);
    for (let d: DistrictDef | undefined = byId.get(r.district); d; d = byId.get(d.parent ?? ''))
      required.add(d.id);
  }
  const envelope = (districts: DistrictDef[]): UnsignedRecord => ({
    v: 1,
    type: 'election',
    election: body.id,
    body: { ...body, districts },
  });
  let size = signedSize(envelope([]));
  const sizeOf = (d: DistrictDef) => canonicalBytes(d).length + 1;
  for (const id of required) size += sizeOf(byId.get(id)!);
  if (size - 1 > MAX_RECORD_SIZE || required.size > LIMITS.districtsPerRecord)
    throw new RangeError(
      `the election record is ${size - 1} bytes with ${required.size} districts (root, reporter districts ` +
        `and their ancestors): over ${MAX_RECORD_SIZE} bytes or ${LIMITS.districtsPerRecord} districts`,
    );
  // A breadth-first prefix: stop at the first district that does not fit, so
  // that every district in the record has its parent there too.
  const included = new Set(required);
  for (const d of order) {
    if (included.has(d.id)) continue;
    if (size + sizeOf(d) - 1 > MAX_RECORD_SIZE || included.size >= LIMITS.districtsPerRecord) break;
    size += sizeOf(d);
    included.add(d.id);
  }
  const election = envelope(order.filter((d) => included.has(d.id)));
  const rest = order.filter((d) => !included.has(d.id));
  const districtsEnvelope = (districts: DistrictDef[]): UnsignedRecord => ({
    v: 1,
    type: 'districts',
    election: body.id,
    body: { districts },
  });
  const base = signedSize(districtsEnvelope([]));
  const districts = packItems(rest, base, LIMITS.districtsPerRecord).map(districtsEnvelope);
  return { election, districts };
}

/**
 * `credentials` records issuing `credentials` for `election`, packed as
 * densely as the limits allow; drawn lazily (see {@link packItemsLazily}).
 */
export function* credentialRecords(
  election: string,
  credentials: Iterable<CredentialDef>,
): Generator<UnsignedRecord> {
  const envelope = (list: CredentialDef[]): UnsignedRecord => ({
    v: 1,
    type: 'credentials',
    election,
    body: { credentials: list },
  });
  const base = signedSize(envelope([]));
  for (const chunk of packItemsLazily(credentials, base, LIMITS.credentialsPerRecord)) yield envelope(chunk);
}

/** Signs each record with `seed` (see signRecord; throws what it throws). */
export function signAll(records: readonly UnsignedRecord[], seed: Uint8Array): Uint8Array[] {
  return records.map((r) => signRecord(r, seed));
}

/**
 * A public key as records carry it (base64 of 32 bytes), from either that
 * form or a note verifier key text `name+keyid+base64(0x01||key)` as
 * `urna keygen` prints it. Throws MalformedError for a bad verifier key;
 * other strings are returned unchanged (the record schema checks them).
 */
export function recordKey(text: string): string {
  const t = text.trim();
  return t.includes('+') && !t.endsWith('=') ? toBase64(parseVerifierKey(t).publicKey) : t;
}

/** The manifest's role keys in record form (see {@link recordKey}). */
export function normalizeRoles(body: ElectionBody): ElectionBody {
  return {
    ...body,
    roles: {
      registrar: recordKey(body.roles.registrar),
      counter: recordKey(body.roles.counter),
      reporters: body.roles.reporters.map((r) => ({ ...r, key: recordKey(r.key) })),
      ...(body.roles.guardians
        ? { guardians: { ...body.roles.guardians, keys: body.roles.guardians.keys.map(recordKey) } }
        : {}),
    },
  };
}
