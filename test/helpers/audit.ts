/**
 * An auditor of a running `urna serve` for the slow suites: a loader that
 * collects receipts until the server dies, and a check that the log still
 * holds every receipted entry at its index and is consistent with every
 * checkpoint ever seen, recomputed from the served tiles with the ledger core.
 */
import { expect } from 'vitest';
import { equalBytes, fromBase64, fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { parseCheckpoint, type Checkpoint } from '../../ledger/checkpoint.js';
import { storedHashIndex, treeHash, verifyConsistency } from '../../ledger/merkle.js';
import { openNote, parseVerifierKey } from '../../ledger/note.js';
import { parseReceipt, verifyReceipt } from '../../ledger/receipt.js';
import { tilePath, tilesForSize, TileHashReader, type Tile } from '../../ledger/tile.js';
import type { ServerProcess } from './process.js';

/** An entry the log gave a receipt for. */
export interface Receipted {
  leafHash: string;
  index: number;
}

/** POSTs one opaque entry. */
export async function post(
  server: ServerProcess,
  entry: Uint8Array,
): Promise<{ status: number; body: { index: number; leafHash: string; receipt: string } }> {
  const res = await fetch(`${server.url}/add`, {
    method: 'POST',
    body: Buffer.from(entry),
    headers: { 'content-type': 'application/octet-stream' },
  });
  return {
    status: res.status,
    body: (await res.json()) as { index: number; leafHash: string; receipt: string },
  };
}

/** The server's current signed checkpoint note. */
export async function checkpointOf(server: ServerProcess): Promise<string> {
  return (await fetch(`${server.url}/checkpoint`)).text();
}

/** Submits entries with 16 clients until the server dies or `maxMs` passes. */
export async function load(
  server: ServerProcess,
  tag: string,
  maxMs: number,
  got: Receipted[],
  seen: Set<string>,
) {
  const deadline = Date.now() + maxMs;
  let n = 0;
  let dead = false;
  const client = async (c: number) => {
    while (!dead && Date.now() < deadline) {
      try {
        const { status, body } = await post(server, utf8(`${tag} client ${c} entry ${n++}`));
        if (status === 201 || status === 200) {
          got.push({ leafHash: body.leafHash, index: body.index });
          seen.add(parseReceipt(body.receipt).checkpoint);
        }
      } catch {
        dead = true; // connection refused or reset: the server was killed
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
}

/**
 * The log served by `server` is consistent with every checkpoint in `seen`
 * (no two roots at one size, a consistency proof to the current one), its
 * tiles hash to the signed root, every receipted entry is at its index, and
 * the log's receipts for a sample verify.
 */
export async function checkLog(server: ServerProcess, receipted: Receipted[], seen: Set<string>) {
  const verifier = parseVerifierKey(server.verifierKey);
  const note = await checkpointOf(server);
  const now = parseCheckpoint(openNote(note, [verifier]).text);
  const bySize = new Map<number, Checkpoint>();
  for (const s of seen) {
    const c = parseCheckpoint(openNote(s, [verifier]).text);
    const other = bySize.get(c.size);
    if (other) expect(equalBytes(other.root, c.root), `two roots at size ${c.size}`).toBe(true);
    bySize.set(c.size, c);
  }
  for (const old of bySize.values()) {
    expect(old.size).toBeLessThanOrEqual(now.size);
    if (old.size === 0) continue;
    const res = await fetch(`${server.url}/proof/consistency?from=${old.size}&to=${now.size}`);
    const { proof } = (await res.json()) as { proof: string[] };
    verifyConsistency(old.size, now.size, old.root, now.root, proof.map(fromBase64));
  }
  const tiles = new Map<string, Uint8Array>();
  await Promise.all(
    tilesForSize(now.size).map(async (t) => {
      const res = await fetch(`${server.url}/${tilePath(t)}`);
      expect(res.status).toBe(200);
      tiles.set(tilePath(t), new Uint8Array(await res.arrayBuffer()));
    }),
  );
  const reader = new TileHashReader(now.size, (ts: Tile[]) => ts.map((t) => tiles.get(tilePath(t))!));
  expect(toHex(treeHash(now.size, reader))).toBe(toHex(now.root));
  const leaves = reader.readHashes(receipted.map((r) => storedHashIndex(0, r.index)));
  receipted.forEach((r, i) => expect(toHex(leaves[i]!), `receipted entry ${r.index}`).toBe(r.leafHash));
  for (const r of receipted.slice(-50)) {
    const res = await fetch(`${server.url}/receipt/${r.leafHash}`);
    expect(res.status, `receipted entry ${r.index} missing`).toBe(200);
    const text = await res.text();
    expect(parseReceipt(text).index).toBe(r.index);
    verifyReceipt(text, { leafHash: fromHex(r.leafHash) }, verifier);
  }
  return { note, checkpoint: now };
}
