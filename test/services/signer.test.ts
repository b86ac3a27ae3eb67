import { describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../../ledger/checkpoint.js';
import { InconsistentError } from '../../ledger/errors.js';
import { leafHash } from '../../ledger/hash.js';
import { MemoryHashStore, proveConsistency, treeHash } from '../../ledger/merkle.js';
import { openNote } from '../../ledger/note.js';
import { CheckpointSigner } from '../../services/sequencer/signer.js';
import { testKeys } from '../helpers/log.js';

function tree(n: number, prefix = 'e') {
  const store = new MemoryHashStore();
  for (let i = 0; i < n; i++) store.append(leafHash(new TextEncoder().encode(`${prefix}${i}`)));
  return store;
}

describe('CheckpointSigner', () => {
  const { signer, verifier } = testKeys();

  it('signs consistent growth and refuses anything inconsistent with the last signed head', () => {
    const a = tree(20);
    const guard = new CheckpointSigner(signer.name, signer, null);
    const note10 = guard.sign(10, treeHash(10, a), []);
    expect(parseCheckpoint(openNote(note10, [verifier]).text).size).toBe(10);
    guard.sign(20, treeHash(20, a), proveConsistency(10, 20, a));

    // Smaller size.
    expect(() => guard.sign(15, treeHash(15, a), [])).toThrow(InconsistentError);
    // Same size, another root.
    const b = tree(20, 'other');
    expect(() => guard.sign(20, treeHash(20, b), [])).toThrow(InconsistentError);
    // A fork: b's tree at 25 with a proof from b, against a's last root.
    const b25 = tree(25, 'other');
    expect(() => guard.sign(25, treeHash(25, b25), proveConsistency(20, 25, b25))).toThrow(InconsistentError);
    // No proof at all for growth.
    const a25 = tree(25);
    expect(() => guard.sign(25, treeHash(25, a25), [])).toThrow(InconsistentError);
    // Refusals changed nothing: the honest extension is still accepted.
    expect(guard.lastSigned!.size).toBe(20);
    guard.sign(25, treeHash(25, a25), proveConsistency(20, 25, a25));
  });

  it('re-signing the same head yields byte-identical notes (deterministic Ed25519)', () => {
    const a = tree(7);
    const g1 = new CheckpointSigner(signer.name, signer, null);
    const g2 = new CheckpointSigner(signer.name, signer, { size: 7, root: treeHash(7, a) });
    expect(g1.sign(7, treeHash(7, a), [])).toBe(g2.sign(7, treeHash(7, a), []));
  });

  it('refuses a key whose name is not the origin', () => {
    expect(() => new CheckpointSigner('another.origin/log', signer, null)).toThrow(RangeError);
  });
});
