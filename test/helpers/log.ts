/**
 * Test helpers: a log on a memory or LevelDB store, and a client-side
 * auditor that rebuilds the tree from served tiles and checks every receipt
 * with the ledger core alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leafHash } from '../../ledger/hash.js';
import { canonicalize } from '../../ledger/jcs.js';
import { MemoryHashStore, treeHash } from '../../ledger/merkle.js';
import { MemoryState, replay } from '../../ledger/rules.js';
import { ENTRIES_LEVEL, parseEntryBundle, TILE_WIDTH } from '../../ledger/tile.js';
import {
  ED25519_TYPE,
  formatSignerKey,
  generateSignerKey,
  parseSignerKey,
  parseVerifierKey,
  type NoteVerifier,
} from '../../ledger/note.js';
import { TEST_LOG } from './election.js';
import { Registry } from '../../services/metrics.js';
import { Sequencer, type SequencerOptions } from '../../services/sequencer/sequencer.js';
import { buildApp } from '../../services/api/app.js';
import { RecordPool } from '../../services/crypto/record-pool.js';
import { ElectionAdmission } from '../../services/election/admission.js';
import { TileCache } from '../../services/node/tile-cache.js';
import { MemoryStore } from '../../services/storage/memory.js';
import type { LogStore } from '../../services/storage/store.js';
import { MemorySignerState, type SignerState } from '../../services/storage/signer-state.js';

export interface TestLog {
  sequencer: Sequencer;
  store: LogStore;
  signerState: SignerState;
  metrics: Registry;
  verifier: NoteVerifier;
  signerKey: string;
}

/** A fresh key pair named `origin`. */
export function testKeys(origin = 'example.test/log') {
  const { signerKey, verifierKey } = generateSignerKey(origin);
  return {
    signerKey,
    verifierKey,
    signer: parseSignerKey(signerKey),
    verifier: parseVerifierKey(verifierKey),
  };
}

/** Opens a sequencer over `store` (default: a new MemoryStore) that ticks only when told to. */
export async function openTestLog(
  opts: Partial<SequencerOptions> & { store?: LogStore; signerKey?: string } = {},
): Promise<TestLog> {
  const keys = opts.signerKey
    ? { signerKey: opts.signerKey, signer: parseSignerKey(opts.signerKey) }
    : testKeys();
  const signer = keys.signer;
  const verifier = parseVerifierKey(signer.verifierKey);
  const store = opts.store ?? new MemoryStore();
  const signerState = opts.signerState ?? new MemorySignerState();
  const metrics = new Registry();
  const sequencer = await Sequencer.open({ ...opts, store, signerState, signer, verifier, metrics });
  return { sequencer, store, signerState, metrics, verifier, signerKey: keys.signerKey };
}

/** Submits entries and runs one tick; resolves with every result. */
export async function submitAndTick(log: TestLog, entries: Uint8Array[]) {
  const before = log.sequencer.poolSize;
  const settled: Array<Promise<unknown>> = [];
  const results = entries.map((e) => {
    const p = log.sequencer.submit(e);
    settled.push(p.catch(() => undefined));
    return p;
  });
  // Submissions await a leaf lookup before they join the pool (or settle at once).
  let done = 0;
  for (const s of settled) void s.then(() => done++);
  for (let i = 0; i < 1000 && log.sequencer.poolSize + done < before + entries.length; i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  await log.sequencer.tick();
  return Promise.all(results);
}

/** Waits (bounded) until the sequencer's pool holds `n` entries. */
export async function waitForPool(log: TestLog, n: number): Promise<void> {
  for (let i = 0; i < 5000 && log.sequencer.poolSize < n; i++) await new Promise((r) => setTimeout(r, 1));
  if (log.sequencer.poolSize < n) throw new Error(`pool never reached ${n} entries`);
}

/** A temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'urna-test-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `n` distinct entries with a prefix. */
export function entries(n: number, prefix = 'entry'): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`${prefix}-${i}`));
}

/**
 * An in-process log with the election rules (the sequencer's admission hook,
 * decoding on a real worker pool), its HTTP app, and helpers to submit
 * through HTTP one record at a time in order.
 */
export async function openElectionLog(opts: { batchPeriodMs?: number; poolSize?: number } = {}) {
  const store = new MemoryStore();
  const tiles = new TileCache(store);
  const pool = new RecordPool(opts.poolSize ?? 1);
  const admission = new ElectionAdmission({
    store,
    tiles,
    pool,
    log: { key: TEST_LOG.signer.key, origin: TEST_LOG.origin },
  });
  // Signed with the test log's key, so the log record a test posts as entry 0
  // (RecordLog's first record) is the log's own.
  const signerKey = formatSignerKey(TEST_LOG.origin, ED25519_TYPE, TEST_LOG.signer.seed);
  const log = await openTestLog({
    store,
    tiles,
    admission,
    signerKey,
    batchPeriodMs: opts.batchPeriodMs ?? 100,
  });
  const app = await buildApp({ node: log.sequencer, store, metrics: log.metrics });
  /** POSTs one entry and runs the tick that decides it; resolves with the HTTP response. */
  async function post(bytes: Uint8Array) {
    let settled = false;
    const res = app.inject({
      method: 'POST',
      url: '/add',
      payload: Buffer.from(bytes),
      headers: { 'content-type': 'application/json' },
    });
    void res.then(() => (settled = true));
    for (let i = 0; i < 5000 && !settled && log.sequencer.poolSize === 0; i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    if (!settled) await log.sequencer.tick();
    return res;
  }
  /** Every stored state entry (the projections), as key → canonical JSON text. */
  async function projections(): Promise<Map<string, string>> {
    const rows = await store.scanExtra('p/');
    return new Map(rows.map(({ key, value }) => [key.slice(2), new TextDecoder().decode(value)]));
  }
  /** Every entry of the log, read back from its entry bundles. */
  async function entries(): Promise<Uint8Array[]> {
    const size = log.sequencer.head.size;
    const out: Uint8Array[] = [];
    for (let b = 0; b * TILE_WIDTH < size; b++) {
      const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
      const [data] = await log.sequencer.tiles.fetch([{ level: ENTRIES_LEVEL, index: b, width }]);
      out.push(...parseEntryBundle(data!).slice(0, width));
    }
    return out;
  }
  /**
   * Replays every entry of the log with the ledger's rules, as an auditor
   * would: the rejections (there should be none) and the replayed state,
   * serialised as `projections()` is, to compare byte for byte.
   */
  async function replayLog() {
    const all = await entries();
    const tree = new MemoryHashStore();
    for (const e of all) tree.append(leafHash(e));
    const state = new MemoryState();
    const { results } = replay(
      all,
      { logKey: TEST_LOG.signer.key, origin: TEST_LOG.origin, rootAt: (n) => treeHash(n, tree) },
      { state },
    );
    return {
      rejected: results.filter((r) => r.error).map((r) => `${r.index}: ${r.error!.code}`),
      state: new Map([...state.entries()].map(([k, v]) => [k, canonicalize(v)])),
    };
  }
  return {
    ...log,
    app,
    pool,
    post,
    projections,
    entries,
    replayLog,
    async close() {
      await app.close();
      await pool.close();
    },
  };
}
