/**
 * The witness's memory: per log, the latest checkpoint it cosigned, in
 * LevelDB, each update written with `sync: true` before the witness answers
 * (tlog-witness §add-checkpoint: "The witness MUST persist the new
 * checkpoint before responding").
 *
 * A witness that forgot what it cosigned would cosign anything next (its
 * first checkpoint of a log is taken on trust), so the store never starts
 * empty over a lost database: `witness.json` and the database hold one
 * random id, written together on first start; a data dir with one and not
 * the other, or two different ids, is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { fromBase64, toBase64 } from '../../ledger/bytes.js';
import type { WitnessedCheckpoint } from '../../ledger/witness.js';
import { writeFileAtomic } from '../storage/atomic-file.js';

/** What the witness keeps per log. */
export interface WitnessRecord extends WitnessedCheckpoint {
  /** The checkpoint as cosigned: the log's note with this witness's cosignature line(s). */
  note: string;
}

/** A data dir the witness must not run on (names the reason and the remedy). */
export class WitnessStoreError extends Error {}

const ID_FILE = 'witness.json';
const ID_KEY = 'id';

export class WitnessStore {
  private constructor(private readonly db: Level<string, string>) {}

  /** Opens (on first start: creates) the witness database in `dir`. */
  static async open(dir: string): Promise<WitnessStore> {
    await mkdir(dir, { recursive: true });
    const idFile = join(dir, ID_FILE);
    const dbDir = join(dir, 'db');
    const known = await readFile(idFile, 'utf8').then(
      (t) => (JSON.parse(t) as { id: string }).id,
      () => null,
    );
    const dbExists = await readdir(dbDir).then(
      (names) => names.length > 0,
      () => false,
    );
    if (known === null && dbExists)
      throw new WitnessStoreError(
        `${dbDir} holds a database but ${idFile} is missing: refusing to guess which witness this is`,
      );
    if (known !== null && !dbExists)
      throw new WitnessStoreError(
        `${idFile} names a witness database, but ${dbDir} is gone: a witness that lost what it cosigned ` +
          'must not cosign again under this key (retire the key, or restore the data dir)',
      );
    const db = new Level<string, string>(dbDir, { valueEncoding: 'utf8' });
    await db.open({ createIfMissing: known === null });
    if (known === null) {
      const id = randomBytes(16).toString('hex');
      await db.put(ID_KEY, id, { sync: true });
      await writeFileAtomic(idFile, JSON.stringify({ id }) + '\n');
    } else if ((await db.get(ID_KEY)) !== known) {
      await db.close();
      throw new WitnessStoreError(`${dbDir} is not the database ${idFile} names`);
    }
    return new WitnessStore(db);
  }

  /** The latest checkpoint cosigned for `origin`, or null. */
  async get(origin: string): Promise<WitnessRecord | null> {
    const text = await this.db.get(logKey(origin));
    if (text === undefined) return null;
    const v = JSON.parse(text) as { size: number; root: string; note: string };
    return { size: v.size, root: fromBase64(v.root), note: v.note };
  }

  /** Replaces the record of `origin`, durably (fsync) before it resolves. */
  async put(origin: string, record: WitnessRecord): Promise<void> {
    const value = JSON.stringify({ size: record.size, root: toBase64(record.root), note: record.note });
    await this.db.put(logKey(origin), value, { sync: true });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function logKey(origin: string): string {
  return `log/${origin}`;
}
