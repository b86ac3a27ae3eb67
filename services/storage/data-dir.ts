/**
 * A node's data directory: the LevelDB database in `db/` and, beside it,
 * `store.json`, the store's identity, written once when the directory is
 * initialised (and also kept inside the database).
 *
 * The identity is what makes "this data dir holds a log" a fact LevelDB
 * cannot forget: once it exists, the database is never created again, so a
 * deleted CURRENT file, a lost `db/` or a database from elsewhere is an
 * error that names the remedy, never a silently empty log. A database that
 * LevelDB cannot open, or that dropped write-ahead-log records while
 * opening, is unusable: a node that can rebuild its store from the journal
 * (`rebuild`) moves it aside (never deleting it) and starts on an empty
 * one; any other node refuses to start. A database that dropped records is
 * moved aside in both cases, so that the verdict outlives the process
 * (LevelDB rewrites its log on open: the next open would look clean).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { StorageCorruptError } from './errors.js';
import { LevelStore, WalDroppedError } from './level.js';

/** The identity of an initialised data dir (`store.json`). */
export interface StoreIdentity {
  format: 'urna-store/v1';
  /** Random, 128 bits hex: the same in store.json and in the database. */
  id: string;
  /** The log it holds. */
  origin: string;
  created: string;
}

/** A data dir whose database cannot be used: `remedy` says what the operator can do. */
export class UnusableStoreError extends StorageCorruptError {
  constructor(
    readonly dataDir: string,
    readonly reason: string,
    /** Where the unusable database was moved, if it was. */
    readonly movedTo: string | null,
    options?: { cause?: unknown },
  ) {
    super(
      `the store in ${dataDir} cannot be served: ${reason}` +
        (movedTo ? ` (the database was moved aside to ${movedTo})` : ''),
      options,
    );
  }
}

export interface OpenDataDirOptions {
  /** The log's origin, recorded in the identity when the dir is initialised. */
  origin: string;
  maxOpenFiles?: number;
  /** This node rebuilds its store from the journal: move an unusable database aside and start empty. */
  rebuild?: boolean;
  /** Told what was done (a database moved aside, a lost store.json rewritten). */
  warn?: (message: string) => void;
}

export interface OpenedDataDir {
  store: LevelStore;
  identity: StoreIdentity;
  /** True when this call initialised the data dir (a new, empty store). */
  created: boolean;
}

const IDENTITY_FILE = 'store.json';

/** Opens (initialising on first start) the store of `dataDir`; see the file comment. */
export async function openDataDir(dataDir: string, opts: OpenDataDirOptions): Promise<OpenedDataDir> {
  const dbDir = join(dataDir, 'db');
  const identity = await readIdentity(dataDir);
  if (identity === null && (await isEmptyOrAbsent(dbDir))) return initialise(dataDir, opts);
  let store: LevelStore | null = null;
  try {
    if (identity !== null && (await isEmptyOrAbsent(dbDir)))
      throw new UnusableStoreError(
        dataDir,
        `it was initialised on ${identity.created} (${IDENTITY_FILE}, store ${identity.id}) but its database ${dbDir} is missing`,
        null,
      );
    store = await LevelStore.open(dbDir, { create: false, ...maxOpen(opts) });
    const id = await store.readIdentity();
    if (identity === null) {
      // A database without store.json: the file was lost, or an older urna made the store.
      const found = { ...newIdentity(opts.origin), ...(id === null ? {} : { id }) };
      if (id === null) await store.writeIdentity(found.id);
      await writeIdentity(dataDir, found);
      opts.warn?.(`${join(dataDir, IDENTITY_FILE)} was missing: rewritten for store ${found.id}`);
      return { store, identity: found, created: false };
    }
    if (id !== identity.id)
      throw new UnusableStoreError(
        dataDir,
        `${dbDir} is not the database this data dir was initialised with ` +
          `(${IDENTITY_FILE} names store ${identity.id}, the database ${id ?? 'none'})`,
        null,
      );
    return { store, identity, created: false };
  } catch (e) {
    await store?.close().catch(() => {});
    const unusable =
      e instanceof UnusableStoreError
        ? e
        : e instanceof StorageCorruptError
          ? new UnusableStoreError(dataDir, e.message, null, { cause: e })
          : null;
    if (!unusable) throw e;
    if (!opts.rebuild && !(e instanceof WalDroppedError)) throw unusable;
    const movedTo = (await isEmptyOrAbsent(dbDir)) ? null : await moveAside(dbDir);
    if (!opts.rebuild) throw new UnusableStoreError(dataDir, unusable.reason, movedTo, { cause: e });
    opts.warn?.(
      `${unusable.reason}; ${movedTo ? `moved it to ${movedTo} and ` : ''}rebuilding from the journal`,
    );
    return initialise(dataDir, opts);
  }
}

function maxOpen(opts: OpenDataDirOptions): { maxOpenFiles?: number } {
  return opts.maxOpenFiles === undefined ? {} : { maxOpenFiles: opts.maxOpenFiles };
}

/** A new store identity for `origin`. */
export function newIdentity(origin: string): StoreIdentity {
  return {
    format: 'urna-store/v1',
    id: randomBytes(16).toString('hex'),
    origin,
    created: new Date().toISOString(),
  };
}

/** Creates a new, empty store with a new identity (database first, then store.json: a crash between leaves an uninitialised dir). */
async function initialise(dataDir: string, opts: OpenDataDirOptions): Promise<OpenedDataDir> {
  const identity = newIdentity(opts.origin);
  await mkdir(dataDir, { recursive: true });
  const store = await LevelStore.open(join(dataDir, 'db'), { create: true, ...maxOpen(opts) });
  try {
    await store.writeIdentity(identity.id);
    await writeIdentity(dataDir, identity);
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  return { store, identity, created: true };
}

/** Reads store.json, or null if absent. Throws UnusableStoreError if it is not an identity. */
export async function readIdentity(dataDir: string): Promise<StoreIdentity | null> {
  const file = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const j = JSON.parse(text) as Partial<StoreIdentity>;
    if (j.format === 'urna-store/v1' && typeof j.id === 'string' && /^[0-9a-f]{32}$/.test(j.id))
      return j as StoreIdentity;
  } catch {
    // fall through
  }
  throw new UnusableStoreError(dataDir, `${file} is not a store identity`, null);
}

/** Writes store.json atomically. */
export function writeIdentity(dataDir: string, identity: StoreIdentity): Promise<void> {
  return writeFileAtomic(join(dataDir, IDENTITY_FILE), JSON.stringify(identity, null, 2) + '\n', 0o644);
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/** Renames `dir` to `dir.unusable-<time>` and returns the new path. */
export async function moveAside(dir: string, why = 'unusable'): Promise<string> {
  const to = `${dir}.${why}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(dir, to);
  return to;
}
