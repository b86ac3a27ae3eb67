/**
 * The platform's Ed25519 (verifier/platform-ed25519.ts, WebCrypto, here
 * Node's) and ledger/ed25519.ts verifiedAhead: the same verdicts as @noble
 * on RFC 8032's vectors, forged signatures, non-canonical encodings and
 * wrong lengths; a checkpoint with cosignatures verified through it asks
 * WebCrypto and never the synchronous verify; a check that asks in its
 * second pass what its first did not falls back to @noble; errors are the
 * ones the synchronous backend gives.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromHex, utf8 } from '../../ledger/bytes.js';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey, parseCosignerKey } from '../../ledger/cosignature.js';
import { ed25519, nobleEd25519, setEd25519Backend, verifiedAhead } from '../../ledger/ed25519.js';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import { usePlatformEd25519, webCryptoEd25519 } from '../../verifier/platform-ed25519.js';
import { NotVerifiedError, verifyCheckpoint } from '../../verifier/verify.js';

afterEach(() => setEd25519Backend(nobleEd25519));

// RFC 8032 §7.1 TEST 3 (the probe uses TEST 2).
const V = {
  publicKey: fromHex('fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025'),
  message: fromHex('af82'),
  signature: fromHex(
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  ),
};

function flip(bytes: Uint8Array, i: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[i]! ^= 1;
  return out;
}

describe('webCryptoEd25519', () => {
  const web = webCryptoEd25519(crypto.subtle);
  const p = 2n ** 255n - 19n;
  const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [
    ['RFC 8032 TEST 3', V.signature, V.message, V.publicKey],
    ['a changed R', flip(V.signature, 3), V.message, V.publicKey],
    ['a changed S', flip(V.signature, 40), V.message, V.publicKey],
    ['a changed message', V.signature, flip(V.message, 0), V.publicKey],
    ['another key', V.signature, V.message, flip(V.publicKey, 5)],
    ['a short signature', V.signature.subarray(0, 63), V.message, V.publicKey],
    ['a long key', V.signature, V.message, new Uint8Array([...V.publicKey, 0])],
    ['a non-canonical key (y = p + 1)', V.signature, V.message, le(p + 1n)],
    [
      'a non-canonical R (y = p)',
      new Uint8Array([...le(p), ...V.signature.subarray(32)]),
      V.message,
      V.publicKey,
    ],
    [
      'S ≥ L',
      new Uint8Array([
        ...V.signature.subarray(0, 32),
        ...le(2n ** 253n + 27742317777372353535851937790883648493n),
      ]),
      V.message,
      V.publicKey,
    ],
  ];
  it.each(cases)('%s: the verdict of @noble', async (_, sig, msg, key) => {
    expect(await web.verifyAsync!(sig, msg, key)).toBe(nobleEd25519.verify(sig, msg, key));
  });
  it('accepts the vector and refuses all the others', async () => {
    const verdicts = await Promise.all(cases.map(([, s, m, k]) => web.verifyAsync!(s, m, k)));
    expect(verdicts).toEqual([true, ...cases.slice(1).map(() => false)]);
  });
});

describe('verifiedAhead', () => {
  const log = generateSignerKey('platform.example/log');
  const w = [1, 2, 3].map((n) => generateCosignerKey(`w${n}.example/witness`));
  const policy = parsePolicy(
    `log ${log.verifierKey}\n${w.map((k, i) => `witness W${i + 1} ${k.verifierKey}`).join('\n')}\ngroup two 2 W1 W2 W3\nquorum two\n`,
  );
  const note = signCheckpoint(
    { origin: 'platform.example/log', size: 3, root: new Uint8Array(32).fill(1), extensions: [] },
    parseSignerKey(log.signerKey),
    [
      parseCosignerKey(w[0]!.signerKey, () => 1_700_000_000),
      parseCosignerKey(w[2]!.signerKey, () => 1_700_000_000),
    ],
  );
  const trust = { logKey: log.verifierKey, policy };

  it('installs WebCrypto in place of @noble, and never in place of another backend', async () => {
    expect(await usePlatformEd25519()).toBe(true);
    expect(ed25519()).not.toBe(nobleEd25519);
    expect(ed25519().verifyAsync).toBeTypeOf('function');
    expect(await usePlatformEd25519()).toBe(false); // already installed
  });

  it('verifies a cosigned checkpoint with WebCrypto only', async () => {
    const web = webCryptoEd25519(crypto.subtle);
    const asyncCalls = vi.spyOn(web, 'verifyAsync');
    const syncCalls = vi.spyOn(web, 'verify');
    setEd25519Backend(web);
    const v = await verifiedAhead(() => verifyCheckpoint(note, trust));
    expect(v.quorum).toBe(true);
    expect(v.cosigned.sort()).toEqual(['W1', 'W3']);
    expect(asyncCalls.mock.calls.length).toBeGreaterThanOrEqual(3); // the log and two witnesses
    expect(syncCalls).not.toHaveBeenCalled();
  });

  it('gives the error of the synchronous check for a forged checkpoint', async () => {
    setEd25519Backend(webCryptoEd25519(crypto.subtle));
    const forged = note.replace(/^3$/m, '4');
    const sync = (() => {
      setEd25519Backend(nobleEd25519);
      try {
        verifyCheckpoint(forged, trust);
      } catch (e) {
        return e as Error;
      }
    })();
    setEd25519Backend(webCryptoEd25519(crypto.subtle));
    const err = await verifiedAhead(() => verifyCheckpoint(forged, trust)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NotVerifiedError);
    expect((err as Error).message).toBe(sync!.message);
  });

  it('falls back to the synchronous verify for what the first pass did not ask', async () => {
    const web = webCryptoEd25519(crypto.subtle);
    const syncCalls = vi.spyOn(web, 'verify');
    setEd25519Backend(web);
    let pass = 0;
    const result = await verifiedAhead(() => {
      pass++;
      // The second pass asks for a message the first did not.
      return ed25519().verify(V.signature, pass === 1 ? utf8('other') : V.message, V.publicKey);
    });
    expect(result).toBe(true);
    expect(syncCalls).toHaveBeenCalledTimes(1);
  });

  it('just runs the check with a backend that has no verifyAsync', async () => {
    let runs = 0;
    expect(
      await verifiedAhead(() => (runs++, nobleEd25519.verify(V.signature, V.message, V.publicKey))),
    ).toBe(true);
    expect(runs).toBe(1);
  });
});
