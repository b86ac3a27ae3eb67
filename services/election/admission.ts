/**
 * Election admission: the sequencer's Admission hook running the election
 * rules (ledger/rules.ts applyRecord), the same pure function every replayer
 * runs. Per submission, the record is decoded and its signature checked on
 * the worker pool, and so are an encrypted ballot's proofs once its
 * election's key is committed (the rules take that verdict for the key and
 * hash it was computed under, and verify the proofs themselves otherwise),
 * and a guardian's decryption's shares against the sums it names as
 * committed.
 * Per batch, the state entries all its records read are
 * fetched in one batched read, and the records are applied in sequence order
 * over an overlay, so a later record sees the earlier ones; the overlay's
 * entries are committed with the batch.
 */
import type { Hash } from '../../ledger/hash.js';
import { treeHash } from '../../ledger/merkle.js';
import { toHex } from '../../ledger/bytes.js';
import type { DecodedRecord, DecryptionRecord } from '../../ledger/record.js';
import {
  applyRecord,
  stateKey,
  stateKeys,
  type CeremonyState,
  type ElectionState,
  type EncryptedSumState,
  type RulesContext,
  type StateValue,
} from '../../ledger/rules.js';
import type { RecordPool } from '../crypto/record-pool.js';
import type { WireElection } from '../crypto/record-worker.js';
import { DEFER, type Admission, type BatchAdmission, type Prepared } from '../node/admission.js';
import type { TileCache } from '../node/tile-cache.js';
import type { LogStore } from '../storage/store.js';
import { encodeState, projectionKey, readState } from './state.js';

export interface ElectionAdmissionOptions {
  store: LogStore;
  /** The sequencer's tile cache, for the roots tallies bind. */
  tiles: TileCache;
  pool: RecordPool;
  /**
   * The log: its key (base64 Ed25519 public key) and origin. What it trusts
   * is in the log itself (its `log` records), so nothing else is needed.
   */
  log: { key: string; origin: string };
}

/**
 * A record as prepared: decoded, and for an encrypted ballot the verdict on
 * its proofs (if its election's key was known), for a decryption the verdict
 * on its shares (if the sums it names were committed as it states them).
 */
export type PreparedRecord = {
  decoded: DecodedRecord;
  proven?: { key: string; hash: string; ok: boolean };
  decrypted?: { changed: number; hash: string; ok: boolean };
};

export class ElectionAdmission implements Admission<PreparedRecord> {
  /** Encrypted elections whose key is committed (it never changes once fixed). */
  private readonly keyed = new Map<string, WireElection>();

  constructor(private readonly opts: ElectionAdmissionOptions) {}

  async prepare(entry: Uint8Array): Promise<PreparedRecord> {
    const decoded = await this.opts.pool.decode(entry);
    const r = decoded.record;
    if (r.type === 'decryption') return { decoded, ...(await this.proveDecryption(r)) };
    if (r.type !== 'ballot' || !('encrypted' in r.body)) return { decoded };
    const election = await this.keyOf(r.election);
    if (election === null) return { decoded };
    const ok = await this.opts.pool.verifyProofs({ election, body: r.body, credential: r.signer });
    return { decoded, proven: { key: election.key, hash: election.hash, ok } };
  }

  /**
   * The verdict on a decryption's shares, computed on the pool, if the sums
   * it names are committed as it states them and the guardian's share image
   * is fixed; else nothing (the rules refuse it, or check it themselves).
   */
  private async proveDecryption(r: DecryptionRecord): Promise<Pick<PreparedRecord, 'decrypted'>> {
    const b = r.body;
    const keys = [
      stateKey.election(r.election),
      stateKey.ceremony(r.election),
      stateKey.encryptedSum(r.election, b.district),
    ];
    const state = await readState(this.opts.store, keys);
    const election = state.get(keys[0]!) as ElectionState | undefined;
    const image = (state.get(keys[1]!) as CeremonyState | undefined)?.images?.[b.index];
    const sums = state.get(keys[2]!) as EncryptedSumState | undefined;
    if (!election || image === undefined || sums?.changed !== b.changed) return {};
    const sealed = Object.fromEntries(Object.entries(sums.contests).map(([c, x]) => [c, x.sum]));
    const ok = await this.opts.pool.verifyProofs({ decryption: b, hash: election.hash, image, sums: sealed });
    return { decrypted: { changed: b.changed, hash: election.hash, ok } };
  }

  /** The committed key, hash and contests of an encrypted election, or null while it has none. */
  private async keyOf(id: string): Promise<WireElection | null> {
    const known = this.keyed.get(id);
    if (known) return known;
    const key = stateKey.election(id);
    const e = (await readState(this.opts.store, [key])).get(key) as ElectionState | undefined;
    if (!e?.key) return null;
    const wire: WireElection = { hash: e.hash, key: e.key, contests: e.contests };
    this.keyed.set(id, wire);
    return wire;
  }

  async begin(
    batch: ReadonlyArray<Prepared<PreparedRecord>>,
    committedSize: number,
  ): Promise<BatchAdmission<PreparedRecord>> {
    const records = batch.map((b) => b.prepared.decoded);
    const keys = [...new Set(records.flatMap(stateKeys))];
    const committed = await readState(this.opts.store, keys);
    // Tallies bind a tree size: fetch the roots of sizes already committed.
    const sizes = [
      ...new Set(
        records.flatMap((d) =>
          d.record.type === 'tally'
            ? [d.record.body.size, d.record.body.seed.size].filter(
                (size) => size >= 1 && size <= committedSize,
              )
            : [],
        ),
      ),
    ];
    const roots = new Map<number, Hash>();
    if (sizes.length) {
      const computed = await this.opts.tiles.withHashes(committedSize, (r) =>
        sizes.map((size) => treeHash(size, r)),
      );
      sizes.forEach((size, i) => roots.set(size, computed[i]!));
    }
    return new RulesBatch(committed, new Set(keys), roots, committedSize, this.opts.log);
  }
}

class RulesBatch implements BatchAdmission<PreparedRecord> {
  private readonly overlay = new Map<string, StateValue>();

  constructor(
    private readonly committed: ReadonlyMap<string, StateValue>,
    private readonly fetched: ReadonlySet<string>,
    private readonly roots: ReadonlyMap<number, Hash>,
    private readonly committedSize: number,
    private readonly log: { key: string; origin: string },
  ) {}

  admit(_entry: Uint8Array, { decoded, proven, decrypted }: PreparedRecord, index: number) {
    const r = decoded.record;
    // A tally over entries sequenced in this very batch waits for the next
    // one, whose committed tree covers its size (the rule itself only needs
    // size <= index, and gives the same answer then).
    if (r.type === 'tally' && r.body.size > this.committedSize && r.body.size <= index) return DEFER;
    // The seed's size is below the tally's, so it is committed whenever the size is.
    const ctx: RulesContext = {
      logKey: this.log.key,
      origin: this.log.origin,
      rootAt: (size) => {
        const root = this.roots.get(size);
        if (!root) throw new Error(`root at ${size} was not fetched`);
        return root;
      },
      provenBallot: (tracker, election) =>
        proven &&
        proven.key === election.key &&
        proven.hash === election.hash &&
        tracker === toHex(decoded.leafHash)
          ? proven.ok
          : undefined,
      provenDecryption: (d) =>
        decrypted &&
        r.type === 'decryption' &&
        d.index === r.body.index &&
        d.district === r.body.district &&
        d.changed === decrypted.changed &&
        d.hash === decrypted.hash
          ? decrypted.ok
          : undefined,
    };
    const result = applyRecord(
      (key) => {
        if (this.overlay.has(key)) return this.overlay.get(key);
        if (!this.fetched.has(key)) throw new Error(`rules read undeclared state key ${key}`);
        return this.committed.get(key);
      },
      decoded,
      index,
      ctx,
    );
    if (!Array.isArray(result)) return result;
    for (const [key, value] of result) this.overlay.set(key, value);
    return null;
  }

  extra() {
    return [...this.overlay].map(([key, value]) => ({ key: projectionKey(key), value: encodeState(value) }));
  }
}
