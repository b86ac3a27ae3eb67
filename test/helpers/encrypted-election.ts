/**
 * Test fixtures of an encrypted election (docs/DESIGN.md "Encrypted
 * ballots"): for a fixture built with `guardians`, every guardian's
 * secrets drawn from a fixed stream (reproducible), the records of the key
 * ceremony, and encrypted ballots with their nonces.
 */
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../ledger/bytes.js';
import {
  decryptionBody,
  encryptBallot,
  guardianBody,
  sharesBody,
  type EncryptedBallotBody,
  type EncryptionContext,
} from '../../ledger/encrypted-election.js';
import {
  communicationKey,
  electionKey,
  guardianKey,
  guardianSecret,
  keyShare,
  shareFor,
  type GuardianSecret,
} from '../../ledger/guardian.js';
import { encodeElement, encodeScalar, hashToScalar, type Element } from '../../ledger/group.js';
import { leafHash } from '../../ledger/hash.js';
import { signRecord, type DecryptionBody, type SpoiledBody } from '../../ledger/record.js';
import type { EncryptedSumState } from '../../ledger/rules.js';
import type { ElectionFixture, TestKey, Voter } from './election.js';

/** A reproducible stream of scalars for `label`. */
export function scalarStream(label: string): () => bigint {
  let i = 0;
  return () => hashToScalar('test/stream', [utf8(label), utf8(String(i++))]);
}

/** Votes per option of each contest a ballot answers. */
export type Choices = { [contest: string]: { [option: string]: number } };

/** The key ceremony of `fixture`'s guardians and encrypted ballots of its election. */
export function keyCeremony(fixture: ElectionFixture) {
  const guardians = fixture.body.roles.guardians;
  if (!guardians) throw new Error('keyCeremony: the fixture has no guardians');
  const hash = leafHash(fixture.election());
  const random = scalarStream(`${fixture.id} ceremony`);
  const secrets: GuardianSecret[] = guardians.keys.map((_, i) =>
    guardianSecret(i + 1, guardians.quorum, random),
  );
  const zetas = secrets.map(() => random());
  const comms = zetas.map((z, i) => communicationKey(i + 1, z, hash, random));
  const key: Element = electionKey(secrets.map((s) => guardianKey(s, hash, random)));
  const signer = (i: number): TestKey => fixture.guardianKeys[i - 1]!;
  const sign = (type: 'guardian' | 'shares' | 'accept' | 'decryption', body: unknown, by: TestKey) =>
    signRecord({ v: 1, type, election: fixture.id, body } as Parameters<typeof signRecord>[0], by.seed);
  const ctx: EncryptionContext = { hash, key, contests: fixture.body.contests };
  let ballots = 0;

  return {
    hash,
    secrets,
    zetas,
    comms,
    key,
    /** The election key as the records state it (base64). */
    keyB64: toBase64(encodeElement(key)),
    ctx,
    /** Guardian `i`'s `guardian` record (signed by `by`, default its own key). */
    guardian(i: number, by: TestKey = signer(i)): Uint8Array {
      return sign('guardian', guardianBody(secrets[i - 1]!, zetas[i - 1]!, hash, random), by);
    },
    /** Guardian `i`'s `shares` record. */
    shares(i: number, by: TestKey = signer(i)): Uint8Array {
      return sign('shares', sharesBody(secrets[i - 1]!, comms, hash, random), by);
    },
    /** Guardian `i`'s `accept` record of `key` (default the right one). */
    accept(i: number, stated: string = toBase64(encodeElement(key))): Uint8Array {
      return sign('accept', { index: i, key: stated }, signer(i));
    },
    /** The whole ceremony: every guardian record, then every shares record, then every accept. */
    records(): Uint8Array[] {
      const n = guardians.keys.length;
      const all = (f: (i: number) => Uint8Array) => Array.from({ length: n }, (_, i) => f(i + 1));
      return [...all((i) => this.guardian(i)), ...all((i) => this.shares(i)), ...all((i) => this.accept(i))];
    },
    /** Guardian `i`'s key share s_i = Σ_j P_j(i), from the shares the others sent it. */
    keyShare(i: number): bigint {
      return keyShare(secrets.map((secret) => shareFor(secret, i)));
    },
    /** Guardian `i`'s decryption body of `district`'s sums as they stand in `sums`. */
    decryptionBody(i: number, district: string, sums: EncryptedSumState): DecryptionBody {
      const sealed = Object.fromEntries(Object.entries(sums.contests).map(([c, x]) => [c, x.sum]));
      return decryptionBody(i, this.keyShare(i), district, sums.changed, sealed, hash, random);
    },
    /** Guardian `i`'s signed `decryption` record with `body` (default: an honest one of `sums`). */
    decryption(i: number, district: string, sums: EncryptedSumState, body?: DecryptionBody, by = signer(i)) {
      return sign('decryption', body ?? this.decryptionBody(i, district, sums), by);
    },
    /** An encrypted ballot body of `voter` (default: s in riksdag, yes in referendum), and its nonces. */
    ballotBody(voter: Voter, choices: Choices = DEFAULT_CHOICES, district = voter.district) {
      return encryptBallot(
        ctx,
        district,
        choices,
        fromBase64(voter.key),
        scalarStream(`ballot ${ballots++}`),
      );
    },
    /**
     * A Benaloh challenge: `voter`'s signed ballot of `choices` (never to be
     * counted) and the signed `spoiled` record that opens it, with `edit`
     * applied to the spoiled body before signing.
     */
    spoil(voter: Voter, choices: Choices = DEFAULT_CHOICES, edit?: (body: SpoiledBody) => void) {
      const { body, nonces } = this.ballotBody(voter, choices);
      const ballot = signRecord({ v: 1, type: 'ballot', election: fixture.id, body }, voter.seed);
      const spoiledBody: SpoiledBody = {
        ballot: body,
        sig: (JSON.parse(fromUtf8(ballot)) as { sig: string }).sig,
        openings: body.contests.map((c) => ({
          contest: c,
          nonces: nonces[c]!.map((n) => toBase64(encodeScalar(n))),
          choices: choices[c]!,
        })),
      };
      edit?.(spoiledBody);
      const spoiled = signRecord(
        { v: 1, type: 'spoiled', election: fixture.id, body: spoiledBody },
        voter.seed,
      );
      return { ballot, spoiled };
    },
    /** A signed `ballot` record of `voter` with `body` (default: a fresh encryption of `choices`). */
    ballot(voter: Voter, choices: Choices = DEFAULT_CHOICES, body?: EncryptedBallotBody): Uint8Array {
      const b = body ?? this.ballotBody(voter, choices).body;
      return signRecord({ v: 1, type: 'ballot', election: fixture.id, body: b }, voter.seed);
    },
  };
}

/** What a fixture voter chooses unless told: `s` for the riksdag, `yes` in the referendum. */
export const DEFAULT_CHOICES: Choices = { riksdag: { s: 1 }, referendum: { yes: 1 } };
