/**
 * Election admission: the sequencer's Admission hook running the election
 * rules (ledger/rules.ts applyRecord), the same pure function every replayer
 * runs. Per submission, the record is decoded and its signature checked on
 * the worker pool, and so are the proofs it carries that can be checked
 * against the committed state (rules.ts proofAhead: an encrypted ballot's
 * once its election's key is fixed, a guardian's decryption's against the
 * sums it names); the rules take that verdict only for what it was computed
 * for, and verify the proofs themselves otherwise. Per batch, the state entries all its records read are
 * fetched in one batched read, and the records are applied in sequence order
 * over an overlay, so a later record sees the earlier ones; the overlay's
 * entries are committed with the batch.
 */
import type { Hash } from '../../ledger/hash.js';
import { treeHash } from '../../ledger/merkle.js';
import type { DecodedRecord } from '../../ledger/record.js';
import type { ProofItem } from '../../ledger/encrypted-election.js';
import {
  applyRecord,
  proofAhead,
  proofAheadKeys,
  provenAhead,
  stateKeys,
  type ElectionState,
  type RulesContext,
  type StateValue,
} from '../../ledger/rules.js';
import type { RecordPool } from '../crypto/record-pool.js';
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

/** A record as prepared: decoded, and the verdict on the proofs it carries that were verified ahead (rules.ts proofAhead). */
export type PreparedRecord = { decoded: DecodedRecord; ahead?: { item: ProofItem; ok: boolean } };

export class ElectionAdmission implements Admission<PreparedRecord> {
  /** Encrypted elections whose key is committed (it never changes once fixed), as the rules keep them. */
  private readonly keyed = new Map<string, ElectionState>();

  constructor(private readonly opts: ElectionAdmissionOptions) {}

  async prepare(entry: Uint8Array): Promise<PreparedRecord> {
    const decoded = await this.opts.pool.decode(entry);
    const keys = proofAheadKeys(decoded);
    if (keys.length === 0) return { decoded };
    const state = await this.committed(keys);
    const item = proofAhead(decoded, (key) => state.get(key));
    if (item === null) return { decoded };
    return { decoded, ahead: { item, ok: await this.opts.pool.verifyProofs(item) } };
  }

  /** Committed state entries; an election whose key is fixed is read once (it is all a ballot's proofs need of it). */
  private async committed(keys: readonly string[]): Promise<Map<string, StateValue>> {
    const known = keys.length === 1 ? this.keyed.get(keys[0]!) : undefined;
    if (known) return new Map([[keys[0]!, known]]);
    const state = await readState(this.opts.store, keys);
    for (const key of keys) {
      const e = state.get(key) as ElectionState | undefined;
      if (key.startsWith('election/') && e?.key) this.keyed.set(key, e);
    }
    return state;
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

  admit(_entry: Uint8Array, { decoded, ahead }: PreparedRecord, index: number) {
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
      ...(ahead ? provenAhead(decoded, ahead.item, ahead.ok) : {}),
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
