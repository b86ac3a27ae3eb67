/**
 * LevelDB implementation of LogStore (classic-level). Every commit is one
 * atomic write batch with `sync: true`: LevelDB appends the batch to its log
 * and fsyncs it before the promise resolves, so a committed batch survives a
 * process kill or power loss, and a torn batch is discarded on reopen.
 */
import { ClassicLevel } from 'classic-level';
import { toHex } from '../../ledger/bytes.js';
import type { Hash } from '../../ledger/hash.js';
import type { Tile } from '../../ledger/tile.js';
import type { CommitBatch, LogStore, TreeHead } from './store.js';
import { decodeHead, decodeIndex, encodeHead, encodeIndex, leafKey, tileKey } from './store.js';

const HEAD = 's/head';
const CHECKPOINT = 's/checkpoint';
const EXTRA = 'x/';

export class LevelStore implements LogStore {
  private readonly db: ClassicLevel<string, Uint8Array>;

  private constructor(db: ClassicLevel<string, Uint8Array>) {
    this.db = db;
  }

  /** Opens (creating if needed) the store in `dir`. */
  static async open(dir: string): Promise<LevelStore> {
    const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
    await db.open();
    return new LevelStore(db);
  }

  async readHead(): Promise<TreeHead | null> {
    const data = await this.db.get(HEAD);
    return data === undefined ? null : decodeHead(data);
  }

  async readTiles(tiles: readonly Tile[]): Promise<Array<Uint8Array | null>> {
    if (tiles.length === 0) return [];
    const values = await this.db.getMany(tiles.map(tileKey));
    return values.map((v) => v ?? null);
  }

  async lookupLeaves(leafHashes: readonly Hash[]): Promise<Array<number | null>> {
    if (leafHashes.length === 0) return [];
    const values = await this.db.getMany(leafHashes.map((h) => leafKey(toHex(h))));
    return values.map((v) => (v === undefined ? null : decodeIndex(v)));
  }

  async commit(batch: CommitBatch): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: Uint8Array }> = [];
    for (const { tile, data } of batch.tiles) ops.push({ type: 'put', key: tileKey(tile), value: data });
    for (const { leafHash, index } of batch.leaves)
      ops.push({ type: 'put', key: leafKey(toHex(leafHash)), value: encodeIndex(index) });
    for (const { key, value } of batch.extra ?? []) ops.push({ type: 'put', key: EXTRA + key, value });
    ops.push({ type: 'put', key: HEAD, value: encodeHead(batch.head) });
    await this.db.batch(ops, { sync: batch.durable !== false });
  }

  async readCheckpoint(): Promise<string | null> {
    const data = await this.db.get(CHECKPOINT);
    return data === undefined ? null : new TextDecoder().decode(data);
  }

  async writeCheckpoint(note: string): Promise<void> {
    await this.db.put(CHECKPOINT, new TextEncoder().encode(note));
  }

  async readExtra(key: string): Promise<Uint8Array | null> {
    return (await this.db.get(EXTRA + key)) ?? null;
  }

  async readExtras(keys: readonly string[]): Promise<Array<Uint8Array | null>> {
    if (keys.length === 0) return [];
    const values = await this.db.getMany(keys.map((k) => EXTRA + k));
    return values.map((v) => v ?? null);
  }

  async scanExtra(prefix: string, limit = Infinity): Promise<Array<{ key: string; value: Uint8Array }>> {
    const out: Array<{ key: string; value: Uint8Array }> = [];
    const gte = EXTRA + prefix;
    for await (const [key, value] of this.db.iterator({ gte, lt: gte + '\uffff', limit })) {
      out.push({ key: key.slice(EXTRA.length), value });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
