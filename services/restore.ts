/**
 * `urna restore`: rebuilds a node's data dir from any tlog-tiles source — a
 * mirror, another node of the log, a static copy of the tiles behind a CDN —
 * without trusting it.
 *
 * The source's checkpoint must verify with the log key and be at least the
 * last checkpoint the key signed (the signer state, when there is one): a
 * source that is behind would restore a log that forgets receipted
 * entries. Every entry is then downloaded and applied through the same
 * steps as the sequencer's (the rules, the tree, the projections) into a
 * new database beside the data dir; the tree recomputed from the entries
 * must have the signed root at the signer state's size and the source
 * checkpoint's root at its size, or nothing is changed. Only then is the
 * old database moved aside (never deleted), the new one moved in with a new
 * store identity, and the signer state advanced to the source checkpoint
 * (which the key signed).
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { equalBytes, toBase64, toHex } from '../ledger/bytes.js';
import { openCheckpoint, type Checkpoint } from '../ledger/checkpoint.js';
import { InconsistentError } from '../ledger/errors.js';
import { parseVerifierKey } from '../ledger/note.js';
import { LogReader } from '../verifier/reader.js';
import { TileAuthError } from '../ledger/tile-auth.js';
import { RecordPool } from './crypto/record-pool.js';
import { ElectionAdmission } from './election/admission.js';
import type { Logger } from './log.js';
import { acceptAll, type Admission } from './node/admission.js';
import { applyEntries } from './node/materialize.js';
import { TileCache } from './node/tile-cache.js';
import { TreeAppender } from '../ledger/appender.js';
import { syncDirectory } from './storage/atomic-file.js';
import { moveAside, newIdentity, writeIdentity } from './storage/data-dir.js';
import { StorageCorruptError } from './storage/errors.js';
import { LevelStore, StoreInUseError } from './storage/level.js';
import type { SignerState } from './storage/signer-state.js';

export interface RestoreConfig {
  /** The tlog-tiles source (its URL prefix). */
  from: string;
  dataDir: string;
  /** The log's verifier key (note format). */
  logKey: string;
  /** The signer state to check the source against and to advance (null: none is known). */
  signerState: SignerState | null;
  rules: 'election' | 'none';
  /** Entry bundles downloaded at once. */
  concurrency: number;
  log: Logger;
  /** Progress, every so often: entries applied of `size`. */
  onProgress?: (applied: number, size: number) => void;
}

export interface Restored {
  size: number;
  checkpoint: string;
  /** Where the database that was replaced went (null: there was none). */
  replaced: string | null;
}

/** Entries applied per batch. */
const BATCH_ENTRIES = 4096;

/** Restores `config.dataDir` from `config.from` (see the file comment). */
export async function restore(config: RestoreConfig): Promise<Restored> {
  const { log } = config;
  const verifier = parseVerifierKey(config.logKey);
  const signed = await readSigned(config);
  const source = new LogReader(config.from, {
    logKey: config.logKey,
    concurrency: config.concurrency,
    http: { maxRetries: 6 },
  });
  const { note, checkpoint, head } = await source.checkpoint().catch((e: unknown) => {
    if ((e as { status?: unknown }).status !== undefined) throw e; // the source did not answer
    throw new InconsistentError(
      `the source's checkpoint does not verify with the log key: ${(e as Error).message}`,
    );
  });
  if (signed && checkpoint.size < signed.size)
    throw new InconsistentError(
      `the source ${config.from} is at size ${checkpoint.size}, behind the checkpoint of size ${signed.size} ` +
        `the log key signed (${config.signerState!.where}): restoring from it would lose entries; use a source that is up to date`,
    );
  // Before downloading anything: the source's tree must hold the tree the key signed.
  if (signed)
    await source.checkConsistent(signed, head).catch((e: unknown) => {
      if (!(e instanceof InconsistentError || e instanceof TileAuthError)) throw e;
      throw new InconsistentError(
        `the source ${config.from} does not hold the log the key signed: ${(e as Error).message}`,
      );
    });
  if (!signed)
    log.warn(
      { signerState: config.signerState?.where ?? null },
      'no signer state: the source is checked against its own signed checkpoint only',
    );
  await checkNotRunning(join(config.dataDir, 'db'));
  await mkdir(config.dataDir, { recursive: true });

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const building = join(config.dataDir, `db.restoring-${stamp}`);
  const store = await LevelStore.open(building, { create: true });
  const pool = config.rules === 'election' ? new RecordPool() : null;
  let done = false;
  try {
    const tiles = new TileCache(store);
    const admission: Admission = pool
      ? new ElectionAdmission({
          store,
          tiles,
          pool,
          log: { key: toBase64(verifier.publicKey), origin: verifier.name },
        })
      : acceptAll;
    const m = { store, tiles, admission, appender: new TreeAppender() };
    const checks = [
      ...(signed ? [{ ...signed, what: 'the signed checkpoint' }] : []),
      { ...checkpoint, what: 'the source checkpoint' },
    ];
    // Every entry authenticated against the source's checkpoint (LogReader), then applied
    // through the rules, with the roots recomputed checked at the signed size and at the end.
    const apply = async (entries: Uint8Array[]) => {
      let rest = entries;
      while (rest.length > 0) {
        const next = checks.find((c) => c.size > m.appender.size);
        const take = next ? Math.min(rest.length, next.size - m.appender.size) : rest.length;
        await applyEntries(m, rest.slice(0, take), { durable: false, what: `entries from ${config.from}` });
        rest = rest.slice(take);
        for (const c of checks)
          if (c.size === m.appender.size && !equalBytes(m.appender.root(), c.root))
            throw new InconsistentError(
              `the entries from ${config.from} give root ${toHex(m.appender.root())} at size ${c.size}, ` +
                `${c.what} has ${toHex(c.root)}: the source does not hold the log the key signed`,
            );
      }
      config.onProgress?.(m.appender.size, checkpoint.size);
    };
    let batch: Uint8Array[] = [];
    try {
      for await (const { entry } of source.entries(0, checkpoint.size, head)) {
        batch.push(entry);
        if (batch.length === BATCH_ENTRIES) {
          await apply(batch);
          batch = [];
        }
      }
      await apply(batch);
    } catch (e) {
      if (!(e instanceof TileAuthError)) throw e;
      throw new InconsistentError(
        `the source ${config.from} does not hold the log the key signed: ${e.message}`,
      );
    }
    if (m.appender.size !== checkpoint.size)
      throw new Error(`restored ${m.appender.size} entries of ${checkpoint.size}`);
    for (const c of checks)
      if (c.size === 0 && !equalBytes(m.appender.root(), c.root))
        throw new InconsistentError(`${c.what} of size 0 has a root that is not the empty tree's`);
    await store.writeCheckpoint(note);
    const identity = newIdentity(verifier.name);
    await store.writeIdentity(identity.id); // synced: every commit before it is durable too
    await store.close();
    await pool?.close();

    // Swap in: the old database aside, the new one in, then its identity, then the signer state.
    const dbDir = join(config.dataDir, 'db');
    const replaced = await moveAside(dbDir, `replaced-${stamp}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    await rename(building, dbDir);
    await writeIdentity(config.dataDir, identity);
    await syncDirectory(config.dataDir);
    if (config.signerState && (!signed || checkpoint.size > signed.size))
      await config.signerState.write(note);
    done = true;
    log.info({ size: checkpoint.size, from: config.from, replaced }, 'restored the data dir');
    return { size: checkpoint.size, checkpoint: note, replaced };
  } finally {
    if (!done) {
      await store.close().catch(() => {});
      await pool?.close();
      await rm(building, { recursive: true, force: true });
    }
  }
}

/** The checkpoint in the signer state, verified; null if there is none. */
async function readSigned(config: RestoreConfig): Promise<Checkpoint | null> {
  const note = await config.signerState?.read();
  if (note === undefined || note === null) return null;
  try {
    return openCheckpoint(note, parseVerifierKey(config.logKey)).checkpoint;
  } catch (e) {
    throw new StorageCorruptError(
      `the signer state ${config.signerState!.where} does not hold a checkpoint signed by the log key: ${(e as Error).message}`,
    );
  }
}

/** Refuses if a node holds the database open (LevelDB's lock): StoreInUseError. */
async function checkNotRunning(dbDir: string): Promise<void> {
  try {
    const db = await LevelStore.open(dbDir);
    await db.close();
  } catch (e) {
    if (e instanceof StoreInUseError) throw e;
    // absent or unusable: that is what a restore is for
  }
}
