/**
 * verifier/verify.ts offline: checkpoints against the log key and a witness
 * policy (quorum met, not met, another log's key, a tampered note), and
 * receipts (the right entry, another entry, a tracker, a checkpoint the
 * policy's quorum did not cosign, a receipt for another log).
 */
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey, parseCosignerKey } from '../../ledger/cosignature.js';
import { leafHash } from '../../ledger/hash.js';
import { MemoryHashStore, proveInclusion, treeHash } from '../../ledger/merkle.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import { formatReceipt } from '../../ledger/receipt.js';
import {
  NotVerifiedError,
  trackerSubject,
  verifyCheckpoint,
  verifyReceiptOffline,
} from '../../verifier/verify.js';

const log = generateSignerKey('verify.example/log');
const other = generateSignerKey('verify.example/log'); // same name, another key
const w = [1, 2, 3].map((n) => generateCosignerKey(`w${n}.example/witness`));
const policy = parsePolicy(
  `log ${log.verifierKey}\n${w.map((k, i) => `witness W${i + 1} ${k.verifierKey}`).join('\n')}\ngroup two 2 W1 W2 W3\nquorum two\n`,
);

const entries = Array.from({ length: 11 }, (_, i) => utf8(`entry ${i}`));
const tree = new MemoryHashStore();
for (const e of entries) tree.append(leafHash(e));
const head = {
  origin: 'verify.example/log',
  size: entries.length,
  root: treeHash(entries.length, tree),
  extensions: [],
};
const note = (signer = log.signerKey, ...witnesses: number[]) =>
  signCheckpoint(
    head,
    parseSignerKey(signer),
    witnesses.map((i) => parseCosignerKey(w[i]!.signerKey)),
  );
const receipt = (index: number, checkpoint = note(log.signerKey, 0, 2)) =>
  formatReceipt({ index, proof: proveInclusion(index, entries.length, tree), checkpoint });

const notVerified = (f: () => unknown, reason: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NotVerifiedError);
  expect((err as Error).message).toMatch(reason);
};

describe('verifyCheckpoint', () => {
  it('names the cosigning witnesses and checks the quorum', () => {
    const v = verifyCheckpoint(note(log.signerKey, 0, 2), { logKey: log.verifierKey, policy });
    expect(v).toMatchObject({ cosigned: ['W1', 'W3'], quorum: true, checkpoint: { size: 11 } });
    notVerified(
      () => verifyCheckpoint(note(log.signerKey, 1), { logKey: log.verifierKey, policy }),
      /quorum.*W2/,
    );
    // Without a policy, cosignatures are neither needed nor reported.
    expect(verifyCheckpoint(note(), { logKey: log.verifierKey })).toMatchObject({
      cosigned: [],
      quorum: null,
    });
  });

  it("refuses another log's checkpoint and a tampered one", () => {
    notVerified(() => verifyCheckpoint(note(other.signerKey), { logKey: log.verifierKey }), /not the log's/);
    const tampered = note().replace('\n11\n', '\n12\n');
    notVerified(() => verifyCheckpoint(tampered, { logKey: log.verifierKey }), /not the log's/);
  });
});

describe('verifyReceiptOffline', () => {
  it('proves the entry, or its tracker, at its index', () => {
    const v = verifyReceiptOffline(receipt(7), { entry: entries[7]! }, { logKey: log.verifierKey, policy });
    expect(v).toMatchObject({
      index: 7,
      tracker: toHex(leafHash(entries[7]!)),
      checkpoint: { quorum: true },
    });
    const t = verifyReceiptOffline(receipt(7), trackerSubject(v.tracker), { logKey: log.verifierKey });
    expect(t.index).toBe(7);
  });

  it('refuses another entry, a checkpoint without the quorum, and a receipt of another log', () => {
    const trust = { logKey: log.verifierKey, policy };
    notVerified(() => verifyReceiptOffline(receipt(7), { entry: entries[6]! }, trust), /does not verify/);
    notVerified(
      () => verifyReceiptOffline(receipt(7, note(log.signerKey, 1)), { entry: entries[7]! }, trust),
      /quorum/,
    );
    notVerified(
      () =>
        verifyReceiptOffline(
          receipt(7, note(other.signerKey)),
          { entry: entries[7]! },
          { logKey: log.verifierKey },
        ),
      /does not verify/,
    );
    notVerified(() => trackerSubject('abc'), /64 hex/);
  });
});
