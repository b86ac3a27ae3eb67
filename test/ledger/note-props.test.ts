// Property tests (fast-check) for notes, checkpoints, cosignatures and
// receipts: every format/parse pair round-trips, garbage only ever raises
// MalformedError, and any flipped signature byte or proof bit is caught.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../ledger/bytes.js';
import type { Checkpoint } from '../../ledger/checkpoint.js';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../ledger/checkpoint.js';
import { parseCosignature, parseCosignerKey } from '../../ledger/cosignature.js';
import { MalformedError, ProofError, SignatureError, UnverifiedNoteError } from '../../ledger/errors.js';
import type { Hash } from '../../ledger/hash.js';
import { EMPTY_ROOT, leafHash, nodeHash } from '../../ledger/hash.js';
import type { NoteSigner } from '../../ledger/note.js';
import {
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  openNote,
  parseNote,
  parseSignatureLine,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../../ledger/note.js';
import type { Receipt } from '../../ledger/receipt.js';
import { formatReceipt, parseReceipt, verifyReceipt } from '../../ledger/receipt.js';

// Characters for key names: printable ASCII but space and '+', and some
// multi-byte ones (including astral and the em dash itself).
const NAME_CHARS = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./:-_~!@#$%^&*()[]{}<>?=,;\'"`|\\',
  'é',
  'ß',
  '日',
  '—',
  '😀',
  '\u0300',
];
const nameArb = fc
  .array(fc.constantFrom(...NAME_CHARS), { minLength: 1, maxLength: 24 })
  .map((a) => a.join(''));

// One line of note text: any code points but control characters (below U+0020).
// eslint-disable-next-line no-control-regex
const lineArb = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\u0000-\u001f]/g, ''));
const textArb = fc.array(lineArb, { minLength: 0, maxLength: 6 }).map((lines) => lines.join('\n') + '\n');
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

// A checkpoint line: non-empty, no control characters.
const cpLineArb = lineArb.filter((s) => s !== '');
const checkpointArb: fc.Arbitrary<Checkpoint> = fc.record({
  origin: nameArb,
  size: fc.oneof(fc.nat(), fc.maxSafeNat()),
  root: hashArb,
  extensions: fc.array(cpLineArb, { maxLength: 3 }),
});

const ed25519SignerArb = fc
  .tuple(nameArb, seedArb)
  .map(([name, seed]) => parseSignerKey(formatSignerKey(name, 1, seed)));
const cosignerArb = fc
  .tuple(nameArb, seedArb, fc.maxSafeNat())
  .map(([name, seed, t]) => parseCosignerKey(formatSignerKey(name, 4, seed), () => t));
const signerArb: fc.Arbitrary<NoteSigner & { verifierKey: string }> = fc.oneof(ed25519SignerArb, cosignerArb);
const signersArb = fc.uniqueArray(signerArb, { minLength: 1, maxLength: 3, selector: (s) => s.verifierKey });

// Small runs where every example costs several Ed25519 operations.
const CRYPTO_RUNS = { numRuns: 40 };

/** Expects `f` to throw MalformedError when it throws at all (any other exception fails the property). */
function onlyMalformed(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}

// Reference RFC 9162 §2.1 Merkle tree (MTH and PATH, recursive), independent of ledger/merkle.ts.
function largestPowerOf2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(leaves: Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  const k = largestPowerOf2Below(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function path(m: number, leaves: Hash[]): Hash[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOf2Below(leaves.length);
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

const LOG = parseSignerKey(formatSignerKey('example.com/log', 1, new Uint8Array(32).fill(7)));
const LOG_V = parseVerifierKey(LOG.verifierKey);

describe('signed notes', () => {
  it('sign then open round-trips for any valid text and signers', () => {
    fc.assert(
      fc.property(textArb, signersArb, (text, signers) => {
        const note = signNote(text, signers);
        const verifiers = signers.map((s) => parseVerifierKey(s.verifierKey));
        const opened = openNote(note, verifiers);
        expect(opened.text).toBe(text);
        expect(opened.verified.map((s) => s.name)).toEqual(signers.map((s) => s.name));
        expect(opened.unverified).toEqual([]);
        // Only the first signer known: the others are unverified.
        const partial = openNote(note, verifiers.slice(0, 1));
        expect(partial.unverified).toHaveLength(signers.length - 1);
        // Format-only parse agrees, and every line re-formats identically.
        const parsed = parseNote(note);
        expect(parsed.text).toBe(text);
        expect(text + '\n' + parsed.signatures.map((s) => formatSignatureLine(s)).join('')).toBe(note);
      }),
      CRYPTO_RUNS,
    );
  });

  it('verifier and signer keys round-trip through their text forms', () => {
    fc.assert(
      fc.property(nameArb, seedArb, fc.constantFrom(1, 4), (name, seed, type) => {
        const skey = formatSignerKey(name, type, seed);
        const signer = type === 1 ? parseSignerKey(skey) : parseCosignerKey(skey);
        const v = parseVerifierKey(signer.verifierKey);
        expect(v.name).toBe(name);
        expect(v.type).toBe(type);
        expect(v.keyId).toEqual(signer.keyId);
        expect(v.publicKey).toEqual(signer.publicKey);
        expect(formatVerifierKey(v.name, v.type, v.publicKey)).toBe(signer.verifierKey);
      }),
      CRYPTO_RUNS,
    );
  });

  it('signature lines round-trip', () => {
    fc.assert(
      fc.property(
        nameArb,
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 1 }),
        (n, k, s) => {
          const sig = { name: n, keyId: k, signature: s };
          expect(parseSignatureLine(formatSignatureLine(sig))).toEqual(sig);
        },
      ),
    );
  });

  it('a flipped byte in any signature is a SignatureError', () => {
    fc.assert(
      fc.property(
        textArb,
        signersArb,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (text, signers, i, j, x) => {
          const note = signNote(text, signers);
          const { signatures } = parseNote(note);
          const which = i % signatures.length;
          const sig = signatures[which]!;
          const flipped = sig.signature.slice();
          flipped[j % flipped.length]! ^= x;
          const lines = signatures.map((s, n) =>
            formatSignatureLine(n === which ? { ...s, signature: flipped } : s),
          );
          const tampered = text + '\n' + lines.join('');
          const verifiers = signers.map((s) => parseVerifierKey(s.verifierKey));
          expect(() => openNote(tampered, verifiers)).toThrow(SignatureError);
        },
      ),
      CRYPTO_RUNS,
    );
  });

  it('garbage and mutated notes and keys only ever raise MalformedError', () => {
    const note = signNote('example.com/log\n1\n' + toBase64(EMPTY_ROOT) + '\n', [LOG]);
    const mutated = (base: string) =>
      fc
        .tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: 'binary', maxLength: 4 }))
        .map(([at, del, ins]) => {
          const p = at % (base.length + 1);
          return base.slice(0, p) + ins + base.slice(p + del);
        });
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'binary-ascii', maxLength: 200 }),
      mutated(note),
      mutated(LOG.verifierKey),
      mutated(formatSignerKey('example.com/log', 1, new Uint8Array(32).fill(7))),
      mutated(formatReceipt({ index: 0, proof: [], checkpoint: note })),
    );
    fc.assert(
      fc.property(garbage, (s) => {
        onlyMalformed(() => parseNote(s));
        onlyMalformed(() => parseCheckpoint(s));
        onlyMalformed(() => parseReceipt(s));
        onlyMalformed(() => parseVerifierKey(s));
        onlyMalformed(() => parseSignerKey(s));
        onlyMalformed(() => parseCosignerKey(s));
        onlyMalformed(() => parseSignatureLine(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('openNote on a mutated note is malformed, a bad signature, unverified, or the same text', () => {
    const note = signNote('a text\nof two lines\n', [LOG]);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat({ max: 3 }),
        fc.string({ unit: 'grapheme', maxLength: 3 }),
        (at, del, ins) => {
          const p = at % (note.length + 1);
          const m = note.slice(0, p) + ins + note.slice(p + del);
          try {
            const opened = openNote(m, [LOG_V]);
            // Accepted: the signed text is intact (edits can only touch ignorable parts).
            expect(opened.text).toBe('a text\nof two lines\n');
          } catch (e) {
            expect((e as { code?: string }).code).toMatch(/^(malformed|bad_signature|unverified)$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('checkpoints', () => {
  it('format/parse round-trips', () => {
    fc.assert(
      fc.property(checkpointArb, (c) => {
        const text = formatCheckpoint(c);
        expect(parseCheckpoint(text)).toEqual(c);
        expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
      }),
    );
  });

  it('sign then open round-trips with witnesses', () => {
    fc.assert(
      fc.property(checkpointArb, seedArb, fc.array(cosignerArb, { maxLength: 2 }), (c, seed, witnesses) => {
        const log = parseSignerKey(formatSignerKey(c.origin, 1, seed));
        const ws = witnesses.filter(
          (w, i) => witnesses.findIndex((x) => x.verifierKey === w.verifierKey) === i,
        );
        const note = signCheckpoint(c, log, ws);
        const wv = ws.map((w) => parseVerifierKey(w.verifierKey));
        const opened = openCheckpoint(note, parseVerifierKey(log.verifierKey), wv);
        expect(opened.checkpoint).toEqual(c);
        expect(opened.note.verified).toHaveLength(1 + ws.length);
      }),
      CRYPTO_RUNS,
    );
  });
});

describe('cosignatures', () => {
  it('cosign then verify round-trips for any timestamp, and the timestamp is recovered', () => {
    fc.assert(
      fc.property(checkpointArb, nameArb, seedArb, fc.maxSafeNat(), (c, name, seed, t) => {
        const w = parseCosignerKey(formatSignerKey(name, 4, seed), () => t);
        const body = formatCheckpoint(c);
        const note = signNote(body, [w]);
        const opened = openNote(note, [parseVerifierKey(w.verifierKey)]);
        expect(opened.verified).toHaveLength(1);
        const cosig = parseCosignature(opened.verified[0]!);
        expect(cosig.timestamp).toBe(t);
        expect(cosig.keyId).toEqual(w.keyId);
        // Any other timestamp in the signature bytes breaks it.
        const other = opened.verified[0]!.signature.slice();
        other[7]! ^= 1;
        expect(parseVerifierKey(w.verifierKey).verify(utf8(body), other)).toBe(false);
      }),
      CRYPTO_RUNS,
    );
  });
});

describe('receipts', () => {
  const receiptArb: fc.Arbitrary<Receipt> = fc
    .record({
      index: fc.oneof(fc.nat(), fc.maxSafeNat()),
      proof: fc.array(hashArb, { maxLength: 64 }),
      checkpoint: checkpointArb.map((c) => signNote(formatCheckpoint(c), [LOG])),
      extra: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
    })
    .map(({ extra, ...r }): Receipt => (extra === undefined ? r : { ...r, extra }));

  it('format/parse round-trips', () => {
    fc.assert(
      fc.property(receiptArb, (r) => {
        const text = formatReceipt(r);
        expect(parseReceipt(text)).toEqual(r);
        expect(formatReceipt(parseReceipt(text))).toBe(text);
      }),
      CRYPTO_RUNS,
    );
  });

  // A log of `size` distinct entries, its receipt for `index`, and the entry.
  const logArb = fc
    .integer({ min: 1, max: 40 })
    .chain((size) => fc.tuple(fc.constant(size), fc.nat({ max: size - 1 })))
    .map(([size, index]) => {
      const entries = Array.from({ length: size }, (_, i) => utf8(`entry ${i}`));
      const leaves = entries.map((e) => leafHash(e));
      const c = { origin: 'example.com/log', size, root: mth(leaves), extensions: [] };
      const receipt: Receipt = { index, proof: path(index, leaves), checkpoint: signCheckpoint(c, LOG) };
      return { entry: entries[index]!, receipt };
    });

  it('a valid receipt verifies for its entry and its leaf hash', () => {
    fc.assert(
      fc.property(logArb, ({ entry, receipt }) => {
        const text = formatReceipt(receipt);
        expect(verifyReceipt(text, { entry }, LOG_V).checkpoint.size).toBeGreaterThan(receipt.index);
        expect(verifyReceipt(text, { leafHash: leafHash(entry) }, LOG_V).verifiedWitnesses).toEqual([]);
        expect(() => verifyReceipt(text, { entry: utf8('some other entry') }, LOG_V)).toThrow(ProofError);
      }),
      CRYPTO_RUNS,
    );
  });

  it('a flipped bit in any proof hash is a ProofError', () => {
    fc.assert(
      fc.property(
        logArb.filter(({ receipt }) => receipt.proof.length > 0),
        fc.nat(),
        fc.nat({ max: 255 }),
        ({ entry, receipt }, i, bit) => {
          const proof = receipt.proof.map((h) => h.slice());
          proof[i % proof.length]![bit >> 3]! ^= 1 << (bit & 7);
          const text = formatReceipt({ ...receipt, proof });
          expect(() => verifyReceipt(text, { entry }, LOG_V)).toThrow(ProofError);
        },
      ),
      CRYPTO_RUNS,
    );
  });

  it('witness quorum: counts only valid cosignatures by the given witnesses', () => {
    const w = [1, 2, 3].map((i) =>
      parseCosignerKey(formatSignerKey(`w${i}.example`, 4, new Uint8Array(32).fill(i)), () => 1700000000 + i),
    );
    const wv = w.map((x) => parseVerifierKey(x.verifierKey));
    const leaves = [utf8('a'), utf8('b'), utf8('c')].map((e) => leafHash(e));
    const c = { origin: 'example.com/log', size: 3, root: mth(leaves), extensions: [] };
    const receipt = formatReceipt({
      index: 2,
      proof: path(2, leaves),
      checkpoint: signCheckpoint(c, LOG, [w[0]!, w[2]!]),
    });
    const subject = { leafHash: leaves[2]! };
    expect(verifyReceipt(receipt, subject, LOG_V, { witnesses: wv, quorum: 2 }).verifiedWitnesses).toEqual([
      'w1.example',
      'w3.example',
    ]);
    expect(() => verifyReceipt(receipt, subject, LOG_V, { witnesses: wv, quorum: 3 })).toThrow(
      UnverifiedNoteError,
    );
    expect(() => verifyReceipt(receipt, subject, LOG_V, { witnesses: wv })).toThrow(UnverifiedNoteError);
    expect(() => verifyReceipt(receipt, subject, LOG_V, { witnesses: wv, quorum: 4 })).toThrow(RangeError);
    // Without the log's key the receipt proves nothing, whatever the witnesses say.
    const otherLog = parseVerifierKey(
      parseSignerKey(formatSignerKey('example.com/log', 1, new Uint8Array(32).fill(9))).verifierKey,
    );
    expect(() => verifyReceipt(receipt, subject, otherLog, { witnesses: wv, quorum: 1 })).toThrow(
      UnverifiedNoteError,
    );
    // A tampered cosignature by a required witness rejects the receipt.
    const lines = receipt.split('\n');
    const last = lines.length - 2;
    const raw = fromBase64(lines[last]!.split(' ')[2]!);
    raw[40]! ^= 1;
    lines[last] = `${lines[last]!.split(' ').slice(0, 2).join(' ')} ${toBase64(raw)}`;
    expect(() => verifyReceipt(lines.join('\n'), subject, LOG_V, { witnesses: wv, quorum: 1 })).toThrow(
      SignatureError,
    );
  });
});
