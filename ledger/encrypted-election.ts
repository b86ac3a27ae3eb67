/**
 * The records of an encrypted election in group terms (docs/DESIGN.md
 * "Encrypted ballots"): between the JSON of ledger/record.ts and the
 * cryptography of ledger/elgamal.ts, encrypted-contest.ts and guardian.ts.
 *
 * - A guardian's `guardian` record is its commitments and communication
 *   key ({@link guardianBody}, {@link guardianKeys}).
 * - A ballot's `encrypted` contests are checked against the election's key
 *   and its contests' shapes ({@link verifyBallotProofs}, or many ballots at
 *   once with {@link verifyBallotsProofs}).
 * - What the rules keep of a ballot is its ciphertexts, "sealed": per
 *   contest the concatenation of α‖β of every option (64 bytes each), in
 *   base64 ({@link sealedContests}). Sums of sealed contests (per polling
 *   district: {@link addSealed}) are what the guardians decrypt.
 *
 * The shape of a contest's encrypted answer is fixed by its method: each
 * option gets 0 or 1, and a contest gets at most one vote in all, except a
 * plurality contest of s seats, which gets up to s ({@link contestShape}).
 */
import { concat, fromBase64, toBase64 } from './bytes.js';
import type { Ciphertext, RangeStatement } from './elgamal.js';
import { verifyRangeBatch } from './elgamal.js';
import {
  contestStatements,
  encryptContest,
  encryptedContestFromJson,
  encryptedContestToJson,
  openContest,
  type ContestShape,
  type EncryptedContestJson,
} from './encrypted-contest.js';
import { MalformedError } from './errors.js';
import {
  combine,
  communicationKey,
  decryptShare,
  encryptShare,
  guardianKey,
  keyShareImage,
  partialDecrypt,
  shareFor,
  verifyPartialDecryption,
  verifyShare,
  verifyCommunicationKey,
  verifyGuardianKey,
  type CommunicationKey,
  type GuardianKey,
  type GuardianSecret,
  type PartialDecryption,
  type Proof,
} from './guardian.js';
import {
  decodeElement,
  decodeScalar,
  encodeElement,
  encodeScalar,
  IDENTITY,
  mulPublic,
  randomScalar,
} from './group.js';
import type { Element } from './group.js';
import type {
  CommitmentJson,
  ContestDef,
  DecryptionBody,
  GuardianBody,
  PartialDecryptionJson,
  SharesBody,
  ShareJson,
} from './record.js';

/** A ballot body of an encrypted election (ledger/record.ts BallotBody). */
export type EncryptedBallotBody = {
  contests: string[];
  district: string;
  encrypted: EncryptedContestJson[];
};

/** What an election's ballot proofs are checked against: its hash, its key and its contests. */
export type EncryptionContext = { hash: Uint8Array; key: Element; contests: readonly ContestDef[] };

/** The same as records and state carry it: hash and key in base64. */
export type EncodedEncryptionContext = { hash: string; key: string; contests: readonly ContestDef[] };

/** Decodes an {@link EncodedEncryptionContext} (MalformedError for a key that is no element). */
export function encryptionContext(e: EncodedEncryptionContext): EncryptionContext {
  return {
    hash: fromBase64(e.hash),
    key: decodeElement(fromBase64(e.key), 'election key'),
    contests: e.contests,
  };
}

/** The encrypted answer a contest admits: 0 or 1 per option; at most 1 in all (a plurality contest: its seats). */
export function contestShape(contest: ContestDef): ContestShape {
  return {
    id: contest.id,
    options: contest.options.map((o) => o.id),
    optionLimit: 1,
    selectionLimit: contest.method.name === 'plurality' ? contest.seats : 1,
  };
}

/**
 * The range statements that make `body` a valid ballot of `credential` (its
 * 32-byte key) in the election `ctx`, or null if a contest is not the
 * election's, is not in its options' order, or holds a non-canonical element
 * or scalar.
 */
export function ballotStatements(
  ctx: EncryptionContext,
  body: EncryptedBallotBody,
  credential: Uint8Array,
): RangeStatement[] | null {
  if (body.encrypted.length !== body.contests.length) return null;
  const statements: RangeStatement[] = [];
  for (const [i, json] of body.encrypted.entries()) {
    const def = ctx.contests.find((c) => c.id === body.contests[i]);
    if (def === undefined) return null;
    let enc;
    try {
      enc = encryptedContestFromJson(json, `body.encrypted[${i}]`);
    } catch (e) {
      if (e instanceof MalformedError) return null;
      throw e;
    }
    const s = contestStatements(contestShape(def), enc, ctx.key, { election: ctx.hash, credential });
    if (s === null) return null;
    statements.push(...s);
  }
  return statements;
}

/** Whether every proof of `body` verifies for `credential` in the election `ctx` (in one batch). */
export function verifyBallotProofs(
  ctx: EncryptionContext,
  body: EncryptedBallotBody,
  credential: Uint8Array,
): boolean {
  return verifyBallotsProofs([{ ctx, body, credential }])[0]!;
}

/**
 * Verdicts on many ballots' proofs, each as {@link verifyBallotProofs}
 * gives, with every statement of every ballot in one batch (one
 * multi-scalar multiplication; a bad ballot makes the batch fall back to
 * one proof at a time, which names it).
 */
export function verifyBallotsProofs(
  ballots: ReadonlyArray<{ ctx: EncryptionContext; body: EncryptedBallotBody; credential: Uint8Array }>,
): boolean[] {
  const all: RangeStatement[] = [];
  const spans = ballots.map(({ ctx, body, credential }) => {
    const s = ballotStatements(ctx, body, credential);
    if (s === null) return null;
    const span = { from: all.length, to: all.length + s.length };
    all.push(...s);
    return span;
  });
  const verdicts = all.length > 0 ? verifyRangeBatch(all) : [];
  return spans.map((span) => span !== null && verdicts.slice(span.from, span.to).every(Boolean));
}

/**
 * Encrypts and proves a ballot of `credential` from `district`:
 * `choices` gives each answered contest's votes per option (absent options
 * 0; an empty map is a blank vote). Returns the body of the `ballot` record
 * and the nonces per contest (secret: revealed only to spoil the ballot).
 * RangeError for a choice the contest does not admit.
 */
export function encryptBallot(
  ctx: EncryptionContext,
  district: string,
  choices: { [contest: string]: { [option: string]: number } },
  credential: Uint8Array,
  random: () => bigint = randomScalar,
): { body: EncryptedBallotBody; nonces: { [contest: string]: bigint[] } } {
  const contests = Object.keys(choices);
  const nonces: { [contest: string]: bigint[] } = {};
  const encrypted = contests.map((id) => {
    const def = ctx.contests.find((c) => c.id === id);
    if (def === undefined) throw new RangeError(`the election has no contest ${id}`);
    const out = encryptContest(
      contestShape(def),
      choices[id]!,
      ctx.key,
      { election: ctx.hash, credential },
      random,
    );
    nonces[id] = out.nonces;
    return encryptedContestToJson(out.encrypted);
  });
  return { body: { contests, district, encrypted }, nonces };
}

// ---- Sealed contests and their sums ----

/** Per contest of `body`, its ciphertexts sealed: base64 of α‖β of every option in order. No element is decoded. */
export function sealedContests(body: EncryptedBallotBody): { [contest: string]: string } {
  const out: { [contest: string]: string } = {};
  for (const c of body.encrypted)
    out[c.contest] = toBase64(concat(...c.options.flatMap((o) => [fromBase64(o.alpha), fromBase64(o.beta)])));
  return out;
}

/** The ciphertexts of a sealed contest (or of a sum of them). MalformedError if it holds a non-canonical element. */
export function sealedCiphertexts(sealed: string): Ciphertext[] {
  const bytes = fromBase64(sealed);
  if (bytes.length % 64 !== 0) throw new MalformedError('sealed contest: not whole ciphertexts');
  const out: Ciphertext[] = [];
  for (let at = 0; at < bytes.length; at += 64)
    out.push({
      alpha: decodeElement(bytes.subarray(at, at + 32), 'sealed contest'),
      beta: decodeElement(bytes.subarray(at + 32, at + 64), 'sealed contest'),
    });
  return out;
}

function sealCiphertexts(cts: readonly Ciphertext[]): string {
  return toBase64(concat(...cts.flatMap((c) => [encodeElement(c.alpha), encodeElement(c.beta)])));
}

/**
 * `sum` (a sealed sum, or undefined for none yet: every option the
 * identity) plus `sign` × `weight` × `sealed`, sealed. The options of both
 * must be as many. (A re-vote or an override subtracts the ballot that
 * counted before.)
 */
export function addSealed(sum: string | undefined, sealed: string, weight: number, sign: 1 | -1): string {
  const add = sealedCiphertexts(sealed);
  const base =
    sum === undefined ? add.map(() => ({ alpha: IDENTITY, beta: IDENTITY })) : sealedCiphertexts(sum);
  if (base.length !== add.length) throw new RangeError('addSealed: sums of different contests');
  const factor = BigInt(weight);
  const scale = (e: Element) => {
    const w = factor === 1n ? e : mulPublic(e, factor);
    return sign === 1 ? w : w.negate();
  };
  return sealCiphertexts(
    base.map((b, i) => ({ alpha: b.alpha.add(scale(add[i]!.alpha)), beta: b.beta.add(scale(add[i]!.beta)) })),
  );
}

// ---- Guardian records ----

function proofJson(p: Proof): { challenge: string; response: string } {
  return { challenge: toBase64(encodeScalar(p.challenge)), response: toBase64(encodeScalar(p.response)) };
}

function commitmentJson(key: Element, proof: Proof): CommitmentJson {
  return { key: toBase64(encodeElement(key)), ...proofJson(proof) };
}

/**
 * The body of guardian `secret.index`'s `guardian` record for the election
 * of hash `election`: its commitments and its communication key (the
 * secret `zeta`), each proven.
 */
export function guardianBody(
  secret: GuardianSecret,
  zeta: bigint,
  election: Uint8Array,
  random: () => bigint = randomScalar,
): GuardianBody {
  const key = guardianKey(secret, election, random);
  const comm = communicationKey(secret.index, zeta, election, random);
  return {
    index: secret.index,
    commitments: key.commitments.map((k, j) => commitmentJson(k, key.proofs[j]!)),
    communication: commitmentJson(comm.key, comm.proof),
  };
}

function parseCommitment(c: CommitmentJson, what: string): { key: Element; proof: Proof } {
  return {
    key: decodeElement(fromBase64(c.key), `${what}.key`),
    proof: {
      challenge: decodeScalar(fromBase64(c.challenge), `${what}.challenge`),
      response: decodeScalar(fromBase64(c.response), `${what}.response`),
    },
  };
}

/**
 * The keys a `guardian` record publishes, if every proof verifies for the
 * election of hash `election` and its `quorum` (as many commitments);
 * null otherwise (a non-canonical element or scalar included).
 */
export function guardianKeys(
  body: GuardianBody,
  quorum: number,
  election: Uint8Array,
): { key: GuardianKey; communication: CommunicationKey } | null {
  let key: GuardianKey;
  let communication: CommunicationKey;
  try {
    const commitments = body.commitments.map((c, j) => parseCommitment(c, `body.commitments[${j}]`));
    key = {
      index: body.index,
      commitments: commitments.map((c) => c.key),
      proofs: commitments.map((c) => c.proof),
    };
    communication = { index: body.index, ...parseCommitment(body.communication, 'body.communication') };
  } catch (e) {
    if (e instanceof MalformedError) return null;
    throw e;
  }
  if (!verifyGuardianKey(key, quorum, election) || !verifyCommunicationKey(communication, election))
    return null;
  return { key, communication };
}

/**
 * The body of guardian `secret.index`'s `shares` record: its share P_i(ℓ)
 * for every other guardian ℓ, encrypted to ℓ's communication key (from
 * `communication`, every guardian's, in any order), in ascending ℓ.
 */
export function sharesBody(
  secret: GuardianSecret,
  communication: readonly CommunicationKey[],
  election: Uint8Array,
  random: () => bigint = randomScalar,
): SharesBody {
  const others = [...communication].filter((c) => c.index !== secret.index).sort((a, b) => a.index - b.index);
  return {
    index: secret.index,
    shares: others.map((to): ShareJson => {
      const e = encryptShare(shareFor(secret, to.index), secret.index, to, election, random);
      return {
        to: e.to,
        alpha: toBase64(encodeElement(e.alpha)),
        ciphertext: toBase64(e.ciphertext),
        mac: toBase64(e.mac),
      };
    }),
  };
}

/**
 * Guardian `to` (holding its communication secret `zeta`) opens the share
 * that `body`'s sender sent it and checks it against the sender's published
 * `key`: the share, or why it is refused (`missing`: none for `to`;
 * `unreadable`: its MAC fails or it holds no scalar; `wrong`: it is not the
 * share the sender's commitments promise). A refused share names its sender.
 */
export function openShare(
  body: SharesBody,
  to: number,
  zeta: bigint,
  key: GuardianKey,
  election: Uint8Array,
): bigint | 'missing' | 'unreadable' | 'wrong' {
  const s = body.shares.find((x) => x.to === to);
  if (s === undefined) return 'missing';
  let alpha: Element;
  try {
    alpha = decodeElement(fromBase64(s.alpha));
  } catch (e) {
    if (e instanceof MalformedError) return 'unreadable';
    throw e;
  }
  const share = decryptShare(
    { from: body.index, to, alpha, ciphertext: fromBase64(s.ciphertext), mac: fromBase64(s.mac) },
    zeta,
    election,
  );
  if (share === null) return 'unreadable';
  return verifyShare(key, to, share) ? share : 'wrong';
}

// ---- Decryption of the sums ----

/**
 * Each guardian's public key share image K̂_ℓ = Σ_i Σ_j ℓ^j·K_{i,j} (base64,
 * by index), from every guardian's commitments (base64, by index, as the
 * ceremony keeps them): what its partial decryptions are verified with.
 */
export function shareImages(commitments: { [index: string]: readonly string[] }): {
  [index: string]: string;
} {
  const keys: GuardianKey[] = Object.entries(commitments).map(([i, list]) => ({
    index: Number(i),
    commitments: list.map((k) => decodeElement(fromBase64(k), 'commitment')),
    proofs: [],
  }));
  const out: { [index: string]: string } = {};
  for (const k of keys) out[k.index] = toBase64(encodeElement(keyShareImage(keys, k.index)));
  return out;
}

/**
 * The body of guardian `index`'s `decryption` record, holding key share
 * `s`, for `district`'s sealed sums per contest (`sums`) as they stood after
 * the record at `changed`, in the election of hash `election`.
 */
export function decryptionBody(
  index: number,
  s: bigint,
  district: string,
  changed: number,
  sums: { readonly [contest: string]: string },
  election: Uint8Array,
  random: () => bigint = randomScalar,
): DecryptionBody {
  const contests: { [contest: string]: PartialDecryptionJson[] } = {};
  for (const [c, sum] of Object.entries(sums))
    contests[c] = sealedCiphertexts(sum).map((ct) => {
      const d = partialDecrypt(ct, index, s, election, random);
      return { share: toBase64(encodeElement(d.share)), ...proofJson(d.proof) };
    });
  return { index, district, changed, contests };
}

/**
 * Where `body` fails as guardian `body.index`'s decryption of the sealed
 * sums `sums` (per contest) with its share image `image`: the first contest
 * and option whose share is not canonical or whose proof does not verify,
 * or null if every one verifies (a contest or option of `sums` that `body`
 * lacks fails too; the rules check the shape first, to say so).
 */
export function failedDecryption(
  body: DecryptionBody,
  sums: { readonly [contest: string]: string },
  image: Element,
  election: Uint8Array,
): { contest: string; option: number } | null {
  for (const [c, sum] of Object.entries(sums)) {
    const cts = sealedCiphertexts(sum);
    const parts = body.contests[c];
    for (let o = 0; o < cts.length; o++) {
      const part = parts?.[o];
      if (part === undefined) return { contest: c, option: o };
      let d: PartialDecryption;
      try {
        d = { index: body.index, ...parsePartial(part, 'share') };
      } catch (e) {
        if (e instanceof MalformedError) return { contest: c, option: o };
        throw e;
      }
      if (!verifyPartialDecryption(cts[o]!, d, image, election)) return { contest: c, option: o };
    }
  }
  return null;
}

function parsePartial(p: PartialDecryptionJson, what: string): { share: Element; proof: Proof } {
  return {
    share: decodeElement(fromBase64(p.share), what),
    proof: {
      challenge: decodeScalar(fromBase64(p.challenge), what),
      response: decodeScalar(fromBase64(p.response), what),
    },
  };
}

/**
 * The counts the sealed sum `sum` (of ballots weighing `weight` in all)
 * decrypts to, from verified partial decryptions of at least a quorum of
 * distinct guardians (`shares`: each guardian's shares of this sum, base64,
 * by index): per option, v in 0 … `weight` with v·K = β − Σ w_ℓ·M_ℓ.
 * RangeError if an option's count is not there (too few guardians).
 */
export function decryptSum(
  sum: string,
  weight: number,
  shares: { readonly [index: string]: readonly string[] },
  key: Element,
): number[] {
  return sealedCiphertexts(sum).map((ct, o) =>
    combine(
      ct,
      Object.entries(shares).map(([i, list]) => ({
        index: Number(i),
        share: decodeElement(fromBase64(list[o]!), 'share'),
      })),
      key,
      weight,
    ),
  );
}

// ---- Spoiled ballots (a Benaloh challenge) ----

/** What a spoiled ballot reveals of one contest: its nonces (one per option, in order) and the votes it states. */
export type ContestOpening = { contest: string; nonces: bigint[]; choices: { [option: string]: number } };

/**
 * Why a spoiled ballot does not show what it states ({@link checkSpoiledBallot}):
 * `proofs`: its proofs do not verify for the credential and the election;
 * `openings`: the openings are not one per contest of the ballot, in order;
 * `nonces`: a contest's nonces do not open its encryption;
 * `choices`: they open it to other votes than the stated ones.
 */
export type SpoiledFailure =
  | { code: 'proofs' }
  | { code: 'openings' }
  | { code: 'nonces'; contest: string }
  | { code: 'choices'; contest: string; encrypted: { [option: string]: number } };

/**
 * Checks a spoiled ballot of `credential` (its 32-byte key) in the election
 * `ctx`: every proof of `body` verifies, and each contest's opening (in the
 * order of `body.contests`) opens its ciphertexts to exactly the stated
 * votes (an option the opening does not state: 0). Returns the votes per
 * contest, or why not.
 */
export function checkSpoiledBallot(
  ctx: EncryptionContext,
  body: EncryptedBallotBody,
  credential: Uint8Array,
  openings: readonly ContestOpening[],
):
  | { ok: true; choices: { [contest: string]: { [option: string]: number } } }
  | { ok: false; failure: SpoiledFailure } {
  if (!verifyBallotProofs(ctx, body, credential)) return { ok: false, failure: { code: 'proofs' } };
  if (openings.length !== body.contests.length || !openings.every((o, i) => o.contest === body.contests[i]))
    return { ok: false, failure: { code: 'openings' } };
  const choices: { [contest: string]: { [option: string]: number } } = {};
  for (const [i, opening] of openings.entries()) {
    const def = ctx.contests.find((c) => c.id === opening.contest)!; // the proofs verified: a contest of ctx
    const shape = contestShape(def);
    const enc = encryptedContestFromJson(body.encrypted[i], `body.encrypted[${i}]`);
    const encrypted = openContest(shape, enc, opening.nonces, ctx.key);
    if (encrypted === null) return { ok: false, failure: { code: 'nonces', contest: opening.contest } };
    const stated = Object.keys(opening.choices);
    const same =
      stated.every((o) => shape.options.includes(o)) &&
      shape.options.every((o) => (opening.choices[o] ?? 0) === encrypted[o]);
    if (!same) return { ok: false, failure: { code: 'choices', contest: opening.contest, encrypted } };
    choices[opening.contest] = encrypted;
  }
  return { ok: true, choices };
}

// ---- Proofs verified ahead of the rules ----

/** An encrypted ballot whose proofs to verify: its election (hash, key, contests), body and credential (base64). */
export type BallotProofItem = {
  election: EncodedEncryptionContext;
  body: EncryptedBallotBody;
  credential: string;
};
/**
 * A guardian's decryption to verify: its body, the election's hash, the
 * guardian's share image (base64) and the sealed sums it decrypts.
 */
export type DecryptionProofItem = {
  decryption: DecryptionBody;
  hash: string;
  image: string;
  sums: { [contest: string]: string };
};
/** Proofs a record carries that can be verified apart from applying it (rules.ts proofAhead), e.g. on a worker. */
export type ProofItem = BallotProofItem | DecryptionProofItem;

/**
 * The verdict on each item, in order: the ballots' proofs all in one batch
 * ({@link verifyBallotsProofs}), each decryption's shares one by one
 * ({@link failedDecryption} finds none failing). Each election's context is
 * decoded once.
 */
export function verifyProofItems(items: readonly ProofItem[]): boolean[] {
  const contexts = new Map<string, EncryptionContext>();
  const contextOf = (e: EncodedEncryptionContext) => {
    const id = `${e.hash} ${e.key}`;
    let ctx = contexts.get(id);
    if (!ctx) contexts.set(id, (ctx = encryptionContext(e)));
    return ctx;
  };
  const ballots = items.filter((x): x is BallotProofItem => 'credential' in x);
  const verdicts = verifyBallotsProofs(
    ballots.map((x) => ({ ctx: contextOf(x.election), body: x.body, credential: fromBase64(x.credential) })),
  );
  let b = 0;
  return items.map((x) =>
    'credential' in x
      ? verdicts[b++]!
      : failedDecryption(x.decryption, x.sums, decodeElement(fromBase64(x.image)), fromBase64(x.hash)) ===
        null,
  );
}
