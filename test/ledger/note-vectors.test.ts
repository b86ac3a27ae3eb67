// Known-answer tests: test/vectors/signed-note.json (C2SP signed-note example,
// Go sumdb/note test keys and notes, C2SP tlog-cosignature example), then
// hand-written cases for the rules of the specs that the vectors do not cover.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../ledger/checkpoint.js';
import {
  cosignatureVerifier,
  cosignedMessage,
  parseCosignature,
  parseCosignerKey,
} from '../../ledger/cosignature.js';
import { MalformedError, SignatureError, UnverifiedNoteError } from '../../ledger/errors.js';
import { EMPTY_ROOT, hash } from '../../ledger/hash.js';
import {
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  keyIdFor,
  openNote,
  parseNote,
  parseSignatureLine,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type NoteSignature,
} from '../../ledger/note.js';
import { formatReceipt, parseReceipt } from '../../ledger/receipt.js';

interface Vectors {
  keys: { vkey: string; skey?: string }[];
  badVkeys: string[];
  sign: { skey: string; text: string; want: string }[];
  open: {
    desc: string;
    note: string;
    verifiers: string[];
    wantText?: string;
    wantVerified?: string[];
    wantUnverified?: string[];
    wantError?: 'unverified' | 'invalid signature' | 'malformed';
  }[];
  cosignature: {
    checkpoint: string;
    line: string;
    wantKeyId: string;
    wantTimestamp: number;
    wantSignedMessage: string;
  };
}

const vectors = JSON.parse(
  readFileSync(new URL('../vectors/signed-note.json', import.meta.url), 'utf8'),
) as Vectors;

const ERROR_CLASSES = {
  unverified: UnverifiedNoteError,
  'invalid signature': SignatureError,
  malformed: MalformedError,
} as const;

describe('signed-note vectors: keys', () => {
  it.each(vectors.keys)('parses and re-formats $vkey', ({ vkey, skey }) => {
    const v = parseVerifierKey(vkey);
    expect(v.type).toBe(0x01);
    expect(v.publicKey.length).toBe(32);
    expect(formatVerifierKey(v.name, v.type, v.publicKey)).toBe(vkey);
    expect(toHex(v.keyId)).toBe(vkey.split('+')[1]);
    if (skey !== undefined) {
      const s = parseSignerKey(skey);
      expect(s.verifierKey).toBe(vkey);
      expect(s.name).toBe(v.name);
      expect(s.keyId).toEqual(v.keyId);
      expect(s.publicKey).toEqual(v.publicKey);
    }
  });

  it.each(vectors.badVkeys)('rejects bad verifier key %s', (vkey) => {
    expect(() => parseVerifierKey(vkey)).toThrow(MalformedError);
  });

  it('rejects a signer key whose key ID does not match its seed', () => {
    const skey = vectors.keys[1]!.skey!;
    const bad = skey.replace('+c74f20a3+', '+c74f20a4+');
    expect(() => parseSignerKey(bad)).toThrow(MalformedError);
    expect(() => parseSignerKey(skey.replace('PRIVATE+KEY+', 'PRIVATE+KEX+'))).toThrow(MalformedError);
  });
});

describe('signed-note vectors: sign', () => {
  it.each(vectors.sign)('reproduces the signed note exactly', ({ skey, text, want }) => {
    expect(signNote(text, [parseSignerKey(skey)])).toBe(want);
  });
});

describe('signed-note vectors: open', () => {
  it.each(vectors.open)('$desc', (c) => {
    const verifiers = c.verifiers.map((k) => parseVerifierKey(k));
    if (c.wantError !== undefined) {
      expect(() => openNote(c.note, verifiers)).toThrow(ERROR_CLASSES[c.wantError]);
      return;
    }
    const opened = openNote(c.note, verifiers);
    expect(opened.text).toBe(c.wantText);
    expect(opened.verified.map((s) => s.name)).toEqual(c.wantVerified ?? []);
    expect(opened.unverified.map((s) => s.name)).toEqual(c.wantUnverified ?? []);
  });

  it('keeps the text of an unverified note in the error', () => {
    const c = vectors.open.find((o) => o.wantError === 'unverified')!;
    try {
      openNote(c.note, []);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UnverifiedNoteError);
      expect((e as UnverifiedNoteError).code).toBe('unverified');
      expect((e as UnverifiedNoteError).text).toBe(parseNote(c.note).text);
    }
  });
});

describe('tlog-cosignature vector (parse only)', () => {
  const v = vectors.cosignature;

  it('decodes key ID, timestamp and signed message', () => {
    const sig = parseSignatureLine(v.line);
    expect(sig.name).toBe('witness.example.com/w1');
    expect(toHex(sig.keyId)).toBe(v.wantKeyId);
    expect(sig.signature.length).toBe(72);
    const cosig = parseCosignature(sig);
    expect(toHex(cosig.keyId)).toBe(v.wantKeyId);
    expect(cosig.timestamp).toBe(v.wantTimestamp);
    expect(cosig.signature.length).toBe(64);
    expect(cosignedMessage(cosig.timestamp, v.checkpoint)).toEqual(utf8(v.wantSignedMessage));
  });

  it('re-formats the signature line byte for byte', () => {
    expect(formatSignatureLine(parseSignatureLine(v.line))).toBe(v.line + '\n');
  });

  it('opens the cosigned example checkpoint as an unverified signature', () => {
    const c = parseCheckpoint(v.checkpoint);
    expect(c).toEqual({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      root: c.root,
      extensions: [],
    });
    expect(formatCheckpoint(c)).toBe(v.checkpoint);
    const parsed = parseNote(v.checkpoint + '\n' + v.line + '\n');
    expect(parsed.signatures).toHaveLength(1);
  });
});

// Fixed keys for the hand-written cases below (seeds are test data, not secrets).
const LOG = parseSignerKey(formatSignerKey('example.com/log', 0x01, new Uint8Array(32).fill(1)));
const LOG_V = parseVerifierKey(LOG.verifierKey);
const W1 = parseCosignerKey(
  formatSignerKey('w1.example', 0x04, new Uint8Array(32).fill(2)),
  () => 1700000000,
);
const W1_V = parseVerifierKey(W1.verifierKey);
const TEXT = 'hello\n';

describe('signed-note rules', () => {
  it('key names: non-empty, no Unicode spaces, no plus', () => {
    for (const ok of ['a', 'example.com/log', 'ünï/cødé', '😀', 'a—b']) expect(isValidKeyName(ok)).toBe(true);
    for (const bad of [
      '',
      'a b',
      'a+b',
      'a\tb',
      'a\u00a0b',
      'a\u2003b',
      'a\u3000b',
      'a\u0085b',
      'a\u0001b',
      '\ud800',
    ]) {
      expect(isValidKeyName(bad)).toBe(false);
    }
    expect(() => keyIdFor('a b', 1, new Uint8Array(32))).toThrow(RangeError);
  });

  it('key ID is SHA-256(name || 0x0A || type || key)[:4]', () => {
    const pk = LOG.publicKey;
    const want = hash(new Uint8Array([...utf8('example.com/log'), 0x0a, 0x01, ...pk])).slice(0, 4);
    expect(keyIdFor('example.com/log', 1, pk)).toEqual(want);
    expect(keyIdFor('example.com/log', 4, pk)).not.toEqual(want);
  });

  it('rejects verifier keys with unknown types, bad lengths or bad syntax', () => {
    const [, name, id, b64] = /^([^+]+)\+([0-9a-f]{8})\+(.*)$/.exec(LOG.verifierKey)!;
    expect(() => parseVerifierKey(`${name}+${id}`)).toThrow(MalformedError);
    expect(() => parseVerifierKey(`${name}+${id!.slice(1)}+${b64}`)).toThrow(MalformedError);
    expect(() => parseVerifierKey(`+${id}+${b64}`)).toThrow(MalformedError);
    const t2 = formatVerifierKey(name!, 2, LOG.publicKey);
    expect(() => parseVerifierKey(t2)).toThrow(MalformedError);
    expect(() => parseVerifierKey(`${name}+${id}+${b64}=`)).toThrow(MalformedError);
    expect(parseVerifierKey(`${name}+${id!.toUpperCase()}+${b64}`).name).toBe(name);
  });

  it('requires the text to end in a newline and contain no control characters', () => {
    expect(() => signNote('hello', [LOG])).toThrow(RangeError);
    expect(() => signNote('he\u0007llo\n', [LOG])).toThrow(RangeError);
    expect(() => signNote('he\ud800llo\n', [LOG])).toThrow(RangeError);
    expect(() => signNote(TEXT, [])).toThrow(RangeError);
    expect(() => signNote(TEXT, [LOG, LOG])).toThrow(RangeError);
  });

  it('separates text and signatures at the last blank line', () => {
    const text = 'a\n\nb\n\n';
    const note = signNote(text, [LOG]);
    expect(openNote(note, [LOG_V]).text).toBe(text);
    expect(openNote(signNote('\n', [LOG]), [LOG_V]).text).toBe('\n');
  });

  it('rejects malformed signature blocks', () => {
    const note = signNote(TEXT, [LOG]);
    const line = note.slice(TEXT.length + 1);
    const cases = [
      TEXT + '\n', // no signature lines
      TEXT + '\n' + line + '\n', // blank line after the signatures
      TEXT + '\n' + line.replace('\u2014 ', '-- '), // not an em dash
      TEXT + '\n' + line.replace('\u2014 ', '\u2014'), // no space after the dash
      TEXT + '\n' + line.replace(/ (\S+)\n$/, '  $1\n'), // two spaces
      TEXT + '\n' + line.replace(/ (\S+)\n$/, ' $1 \n'), // trailing space
      TEXT + '\n\u2014 example.com/log AAAAAA==\n', // 4 bytes: key ID only
      TEXT + '\n' + line.replace('\n', '\r\n'), // CR
    ];
    for (const c of cases) expect(() => parseNote(c), JSON.stringify(c)).toThrow(MalformedError);
  });

  it('limits the number of signatures to 100', () => {
    const line = signNote(TEXT, [LOG]).slice(TEXT.length + 1);
    const unknown = (i: number) => `\u2014 other${i} ${line.split(' ')[2]}`;
    const hundred = TEXT + '\n' + line + Array.from({ length: 99 }, (_, i) => unknown(i)).join('');
    expect(openNote(hundred, [LOG_V]).unverified).toHaveLength(99);
    expect(() => openNote(hundred + unknown(100), [LOG_V])).toThrow(MalformedError);
  });

  it('ignores signatures by unknown keys sharing only the name or only the key ID', () => {
    const note = signNote(TEXT, [LOG]);
    const sig = parseNote(note).signatures[0]!;
    const sameName: NoteSignature = { ...sig, keyId: Uint8Array.of(0, 0, 0, 0) };
    const sameId: NoteSignature = { ...sig, name: 'example.com/other' };
    const withOthers = note + formatSignatureLine(sameName) + formatSignatureLine(sameId);
    const opened = openNote(withOthers, [LOG_V]);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified.map((s) => s.name)).toEqual(['example.com/log', 'example.com/other']);
  });

  it('drops repeated identical unknown signatures', () => {
    const note = signNote(TEXT, [LOG, W1]);
    const w1line = note.split('\n').at(-2)! + '\n';
    expect(openNote(note + w1line, [LOG_V]).unverified).toHaveLength(1);
  });

  it('checks only the first signature by a known key, as Go note.Open does', () => {
    const note = signNote(TEXT, [LOG]);
    const sig = parseNote(note).signatures[0]!;
    const bad = formatSignatureLine({ ...sig, signature: sig.signature.map((b) => b ^ 1) });
    expect(openNote(note + bad, [LOG_V]).verified).toHaveLength(1);
    expect(() => openNote(TEXT + '\n' + bad + note.slice(TEXT.length + 1), [LOG_V])).toThrow(SignatureError);
  });

  it('rejects the note if any known key signature is bad, even when another verifies', () => {
    const note = signNote(TEXT, [LOG, W1]);
    const [logSig, wSig] = parseNote(note).signatures as [NoteSignature, NoteSignature];
    const bad = formatSignatureLine({
      ...wSig,
      signature: wSig.signature.map((b, i) => (i === 20 ? b ^ 0x80 : b)),
    });
    const tampered = TEXT + '\n' + formatSignatureLine(logSig) + bad;
    expect(() => openNote(tampered, [LOG_V, W1_V])).toThrow(SignatureError);
    expect(openNote(tampered, [LOG_V]).unverified).toHaveLength(1);
  });

  it('refuses ambiguous verifier lists', () => {
    const note = signNote(TEXT, [LOG]);
    expect(() => openNote(note, [LOG_V, parseVerifierKey(LOG.verifierKey)])).toThrow(RangeError);
  });
});

describe('tlog-cosignature rules', () => {
  const body = formatCheckpoint({ origin: 'example.com/log', size: 5, root: EMPTY_ROOT, extensions: [] });

  it('signs timestamp || Ed25519(cosignature/v1, time, body) and verifies through a 0x04 vkey', () => {
    const note = signNote(body, [LOG, W1]);
    const w = parseNote(note).signatures[1]!;
    expect(w.signature.length).toBe(72);
    expect(parseCosignature(w).timestamp).toBe(1700000000);
    expect(W1_V.type).toBe(0x04);
    expect(openNote(note, [LOG_V, W1_V]).verified.map((s) => s.name)).toEqual([
      'example.com/log',
      'w1.example',
    ]);
    // The same key material as an Ed25519 (0x01) verifier has another key ID: the cosignature is unknown to it.
    const as01 = parseVerifierKey(formatVerifierKey('w1.example', 1, W1.publicKey));
    expect(() => openNote(TEXT + '\n' + formatSignatureLine(w), [as01])).toThrow(UnverifiedNoteError);
    expect(cosignatureVerifier('w1.example', W1.publicKey).keyId).toEqual(W1_V.keyId);
  });

  it('rejects timestamps beyond the safe integer range', () => {
    const sig = parseNote(signNote(body, [W1])).signatures[0]!;
    const huge = sig.signature.slice();
    huge.set([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
    expect(() => parseCosignature({ ...sig, signature: huge })).toThrow(MalformedError);
    expect(W1_V.verify(utf8(body), huge)).toBe(false);
    expect(() => parseCosignature({ ...sig, signature: sig.signature.slice(1) })).toThrow(MalformedError);
    const badClock = parseCosignerKey(
      formatSignerKey('w1.example', 0x04, new Uint8Array(32).fill(2)),
      () => 1.5,
    );
    expect(() => signNote(body, [badClock])).toThrow(RangeError);
  });

  it('keeps cosigner keys and note signer keys apart', () => {
    const cosignerText = formatSignerKey('w1.example', 0x04, new Uint8Array(32).fill(2));
    expect(() => parseSignerKey(cosignerText)).toThrow(MalformedError);
    expect(() => parseCosignerKey(formatSignerKey('w1.example', 0x01, new Uint8Array(32).fill(2)))).toThrow(
      MalformedError,
    );
  });
});

describe('tlog-checkpoint rules', () => {
  const root = fromBase64('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
  const good = `example.com/log\n7\n${'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I='}\n`;

  it('parses extension lines and formats them back', () => {
    const c = parseCheckpoint(good + 'ext one\next two\n');
    expect(c).toEqual({ origin: 'example.com/log', size: 7, root, extensions: ['ext one', 'ext two'] });
    expect(formatCheckpoint(c)).toBe(good + 'ext one\next two\n');
    expect(parseCheckpoint('o\n0\n' + good.split('\n')[2] + '\n').size).toBe(0);
    expect(parseCheckpoint(`o\n${Number.MAX_SAFE_INTEGER}\n${good.split('\n')[2]}\n`).size).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it.each([
    ['empty origin', good.replace('example.com/log', '')],
    ['leading zero', good.replace('\n7\n', '\n07\n')],
    ['sign', good.replace('\n7\n', '\n+7\n')],
    ['negative', good.replace('\n7\n', '\n-7\n')],
    ['hex size', good.replace('\n7\n', '\n0x7\n')],
    ['exponent', good.replace('\n7\n', '\n7e0\n')],
    ['spaces', good.replace('\n7\n', '\n 7\n')],
    ['beyond safe', good.replace('\n7\n', `\n${Number.MAX_SAFE_INTEGER + 1}\n`)],
    ['short root', good.replace('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'AAAA')],
    ['non-canonical root', good.replace('q2I=', 'q2J=')],
    ['unpadded root', good.replace('q2I=', 'q2I')],
    ['no final newline', good.slice(0, -1)],
    ['two lines', 'example.com/log\n7\n'],
    ['empty extension', good + '\n'],
    ['control character', good + 'ext\u0001\n'],
    ['CR', good.replace('\n7\n', '\n7\r\n')],
  ])('rejects %s', (_desc, text) => {
    expect(() => parseCheckpoint(text)).toThrow(MalformedError);
  });

  it('formatCheckpoint refuses values it could not parse back', () => {
    const c = { origin: 'example.com/log', size: 1, root, extensions: [] as string[] };
    expect(() => formatCheckpoint({ ...c, origin: '' })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...c, origin: 'a\nb' })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...c, size: -1 })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...c, size: 1.5 })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...c, root: root.slice(1) })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...c, extensions: [''] })).toThrow(RangeError);
  });

  it('openCheckpoint requires the log signature and a matching origin', () => {
    const c = { origin: 'example.com/log', size: 7, root, extensions: [] };
    const note = signCheckpoint(c, LOG, [W1]);
    const opened = openCheckpoint(note, LOG_V, [W1_V]);
    expect(opened.checkpoint).toEqual(c);
    expect(opened.note.verified.map((s) => s.name)).toEqual(['example.com/log', 'w1.example']);
    // Witness-only signature: the log did not sign.
    expect(() => openCheckpoint(signNote(formatCheckpoint(c), [W1]), LOG_V, [W1_V])).toThrow(
      UnverifiedNoteError,
    );
    // The log key signed a checkpoint for another origin.
    const other = signNote(formatCheckpoint({ ...c, origin: 'example.com/other' }), [LOG]);
    expect(() => openCheckpoint(other, LOG_V)).toThrow(MalformedError);
    // Signed text that is not a checkpoint.
    expect(() => openCheckpoint(signNote(TEXT, [LOG]), LOG_V)).toThrow(MalformedError);
    expect(() => signCheckpoint({ ...c, origin: 'example.com/other' }, LOG)).toThrow(RangeError);
  });
});

describe('tlog-proof format', () => {
  const c = { origin: 'example.com/log', size: 1, root: EMPTY_ROOT, extensions: [] };
  const checkpoint = signCheckpoint(c, LOG);

  it('formats the layout of c2sp.org/tlog-proof', () => {
    const h = fromHex('00'.repeat(31) + '01');
    const text = formatReceipt({ index: 0, proof: [h], checkpoint, extra: utf8('hi') });
    expect(text).toBe(`c2sp.org/tlog-proof@v1\nextra aGk=\nindex 0\n${'A'.repeat(42)}E=\n\n${checkpoint}`);
    expect(parseReceipt(text)).toEqual({ index: 0, proof: [h], checkpoint, extra: utf8('hi') });
    expect(parseReceipt(formatReceipt({ index: 3, proof: [], checkpoint }))).toEqual({
      index: 3,
      proof: [],
      checkpoint,
    });
  });

  it.each([
    ['no header', `index 0\n\n${checkpoint}`],
    ['wrong header', `c2sp.org/tlog-proof@v2\nindex 0\n\n${checkpoint}`],
    ['leading zero', `c2sp.org/tlog-proof@v1\nindex 01\n\n${checkpoint}`],
    ['no index', `c2sp.org/tlog-proof@v1\n\n${checkpoint}`],
    ['empty extra', `c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n${checkpoint}`],
    ['extra after index', `c2sp.org/tlog-proof@v1\nindex 0\nextra aGk=\n\n${checkpoint}`],
    ['short hash', `c2sp.org/tlog-proof@v1\nindex 0\naGk=\n\n${checkpoint}`],
    ['no blank line', `c2sp.org/tlog-proof@v1\nindex 0\n${checkpoint}`],
    ['unsigned checkpoint', `c2sp.org/tlog-proof@v1\nindex 0\n\n${formatCheckpoint(c)}`],
    ['not a checkpoint', `c2sp.org/tlog-proof@v1\nindex 0\n\n${signNote(TEXT, [LOG])}`],
    ['beyond safe', `c2sp.org/tlog-proof@v1\nindex 9007199254740992\n\n${checkpoint}`],
    ['65 hashes', `c2sp.org/tlog-proof@v1\nindex 0\n${`${'A'.repeat(43)}=\n`.repeat(65)}\n${checkpoint}`],
  ])('rejects %s', (_desc, text) => {
    expect(() => parseReceipt(text)).toThrow(MalformedError);
  });
});
