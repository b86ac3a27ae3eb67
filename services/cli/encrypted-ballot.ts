/**
 * Encrypted ballots for the `urna` clients (`urna cast --choices`, `urna
 * verify spoiled`): the choices of a command line, the election's
 * encryption context, and the spoiled-ballot file of a Benaloh challenge.
 *
 * The spoiled-ballot file (JSON, `urna/spoiled-ballot/v1`) is the signed
 * ballot record exactly as it would have been submitted (so its tracker is
 * the leaf hash of its canonical bytes) and, per contest in the ballot's
 * order, the opening: the nonces (base64 scalars, one per option in the
 * contest's order) and the votes the voter chose.
 */
import { fromBase64, toBase64 } from '../../ledger/bytes.js';
import {
  encryptionContext,
  type ContestOpening,
  type EncryptedBallotBody,
  type EncryptionContext,
} from '../../ledger/encrypted-election.js';
import { decodeScalar, encodeScalar } from '../../ledger/group.js';
import { canonicalBytes } from '../../ledger/jcs.js';
import type { ContestDef, Record as LogRecord } from '../../ledger/record.js';
import type { ElectionSummary } from '../../ledger/rules.js';
import { KeyNotFixedError, readEncryptionContext, type CeremonyView } from '../../verifier/ceremony.js';
import type { LogReader } from '../../verifier/reader.js';
import { UsageError } from './usage-error.js';

/** Votes per option of each contest a ballot answers. */
export type Choices = { [contest: string]: { [option: string]: number } };

/**
 * The choices of `--choices CONTEST=OPTION,...` against the election's
 * contests, in the election's contest order: an option named gets 1 vote
 * (a contest of several seats may name several), `CONTEST=` answers the
 * contest blank, and a contest not named is not on the ballot. UsageError
 * for an unknown contest or option, an option named twice, or nothing
 * named at all. (Too many votes in one contest: encryptBallot's RangeError.)
 */
export function parseChoices(entries: readonly string[], contests: readonly ContestDef[]): Choices {
  if (entries.length === 0) throw new UsageError('--choices is empty');
  const given: Choices = {};
  for (const entry of entries) {
    const m = /^([^=\s]+)=([^=\s]*)$/.exec(entry);
    if (!m) throw new UsageError(`--choices: expected CONTEST=OPTION or CONTEST= (blank), got ${entry}`);
    const [, contest, option] = m as unknown as [string, string, string];
    const def = contests.find((c) => c.id === contest);
    if (def === undefined)
      throw new UsageError(
        `--choices: the election has no contest ${contest} (it has ${contests.map((c) => c.id).join(', ')})`,
      );
    const votes = (given[contest] ??= {});
    if (option === '') continue;
    if (!def.options.some((o) => o.id === option))
      throw new UsageError(
        `--choices: contest ${contest} has no option ${option} (it has ${def.options.map((o) => o.id).join(', ')})`,
      );
    if (Object.hasOwn(votes, option)) throw new UsageError(`--choices: ${contest}=${option} given twice`);
    votes[option] = 1;
  }
  const ordered: Choices = {};
  for (const c of contests) if (Object.hasOwn(given, c.id)) ordered[c.id] = given[c.id]!;
  return ordered;
}

/** Choices as one line: `riksdag: s; referendum: blank`. */
export function choicesText(choices: Choices): string {
  return Object.entries(choices)
    .map(([c, votes]) => {
      const chosen = Object.entries(votes).filter(([, n]) => n > 0);
      return `${c}: ${chosen.length ? chosen.map(([o, n]) => (n === 1 ? o : `${o} ×${n}`)).join(', ') : 'blank'}`;
    })
    .join('; ');
}

/** An election's encryption context, and whether it was read from authenticated records or is the log's word. */
export type ContextSource =
  | { authenticated: true; ctx: EncryptionContext; view: CeremonyView }
  | { authenticated: false; ctx: EncryptionContext };

/**
 * The encryption context of the encrypted election `summary`: from
 * authenticated records when a `reader` (with the log's key) is given
 * (verifier/ceremony.ts readEncryptionContext; KeyNotFixedError before
 * every guardian accepted), else the summary's hash, key and contests (the
 * log's word). Throws KeyNotFixedError when the key is not fixed.
 */
export async function electionContext(
  summary: ElectionSummary,
  reader: LogReader | undefined,
): Promise<ContextSource> {
  if (reader !== undefined) return { authenticated: true, ...(await readEncryptionContext(reader, summary)) };
  if (summary.key === null || summary.key === undefined) throw new KeyNotFixedError(summary.id, []);
  return {
    authenticated: false,
    ctx: encryptionContext({ hash: summary.hash, key: summary.key, contests: summary.contests }),
  };
}

// ---- The spoiled-ballot file ----

export const SPOILED_TYPE = 'urna/spoiled-ballot/v1';

/** The spoiled-ballot file's content. */
export type SpoiledBallotFile = {
  v: 1;
  type: typeof SPOILED_TYPE;
  election: string;
  /** The ballot's tracker (lower-case hex leaf hash of the record's canonical bytes), as printed. */
  tracker: string;
  /** The signed ballot record. */
  ballot: LogRecord;
  /** Per contest of the ballot, in its order: the nonces (base64 scalars) and the votes chosen. */
  openings: Array<{ contest: string; nonces: string[]; choices: { [option: string]: number } }>;
};

/** The spoiled-ballot file of the signed ballot `record`, with its nonces and the choices it encrypts. */
export function formatSpoiled(
  record: LogRecord,
  tracker: string,
  nonces: { [contest: string]: bigint[] },
  choices: Choices,
): string {
  const body = record.body as EncryptedBallotBody;
  const file: SpoiledBallotFile = {
    v: 1,
    type: SPOILED_TYPE,
    election: (record as { election: string }).election,
    tracker,
    ballot: record,
    openings: body.contests.map((c) => ({
      contest: c,
      nonces: nonces[c]!.map((n) => toBase64(encodeScalar(n))),
      choices: choices[c]!,
    })),
  };
  return JSON.stringify(file, null, 2) + '\n';
}

/**
 * Parses a spoiled-ballot file: the record's canonical bytes (to decode and
 * check), the stated tracker and the openings. UsageError for a file that
 * is not one (which says nothing about the ballot: that is the check's).
 */
export function parseSpoiled(
  text: string,
  what: string,
): {
  file: SpoiledBallotFile;
  bytes: Uint8Array;
  openings: ContestOpening[];
} {
  try {
    const file = JSON.parse(text) as SpoiledBallotFile;
    if (file.v !== 1 || file.type !== SPOILED_TYPE) throw new Error(`not a ${SPOILED_TYPE} file`);
    if (typeof file.tracker !== 'string' || typeof file.election !== 'string')
      throw new Error('expected its election and tracker');
    if (typeof file.ballot !== 'object' || file.ballot === null)
      throw new Error('expected the ballot record');
    if (!Array.isArray(file.openings)) throw new Error('expected its openings');
    const openings = file.openings.map((o, i): ContestOpening => {
      if (typeof o?.contest !== 'string' || !Array.isArray(o.nonces) || typeof o.choices !== 'object')
        throw new Error(`openings[${i}]: expected {contest, nonces, choices}`);
      for (const [opt, n] of Object.entries(o.choices ?? {}))
        if (!Number.isSafeInteger(n) || n < 0) throw new Error(`openings[${i}].choices.${opt}: not a count`);
      return {
        contest: o.contest,
        nonces: o.nonces.map((n, j) => {
          const at = `openings[${i}].nonces[${j}]`;
          try {
            return decodeScalar(fromBase64(String(n)), at);
          } catch (e) {
            throw new Error(`${at}: ${e instanceof Error ? e.message : e}`);
          }
        }),
        choices: o.choices,
      };
    });
    return { file, bytes: canonicalBytes(file.ballot), openings };
  } catch (e) {
    throw new UsageError(`${what}: ${e instanceof Error ? e.message : e}`);
  }
}
