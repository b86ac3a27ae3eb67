/**
 * One count of an election at one checkpoint, from a replay: the tally the
 * counting function gives (ledger/tally.ts), the latest tally record, and
 * the district-by-district results with discrepancies (ledger/results.ts).
 * What the counter publishes and what the audit reports, computed once.
 */
import { toBase64 } from '../ledger/bytes.js';
import { UrnaError } from '../ledger/errors.js';
import type { TreeHead } from '../ledger/merkle.js';
import type { TallyBody } from '../ledger/record.js';
import { electionResults, type ElectionResults } from '../ledger/results.js';
import { electionSummary, stateKey, tallyOfState, type ElectionSummary } from '../ledger/rules.js';
import type { Replayer } from './replayer.js';

/** What the counter publishes for one count: the results at one checkpoint. */
export type ResultSnapshot = {
  v: 1;
  /** The election as the log states it at `log.size`. */
  election: Omit<ElectionSummary, 'tally'>;
  /** The checkpoint counted: its size, base64 root and signed note. */
  log: { origin: string; size: number; root: string; checkpoint: string };
  /** What a tally over `log.size` says (null before voting closed). */
  tally: TallyBody | null;
  /** The latest `tally` record in the log at `log.size`: its index and the size it counted, or null. */
  tallyRecord: { index: number; size: number } | null;
  /** District by district, with the discrepancies. */
  results: ElectionResults;
};

/** A counter that cannot go on: bad input (unknown election, a key that is not the counter's). */
export class CountError extends UrnaError {}

/**
 * The count of `election` from a replayer that replayed exactly `head.size`
 * entries (the checkpoint `note` signs `head`). Throws CountError if the log
 * has no such election.
 */
export function countSnapshot(
  replayer: Replayer,
  id: string,
  head: TreeHead,
  note: string,
  opts: { margin?: number } = {},
): ResultSnapshot {
  const read = replayer.state.read;
  const summary = electionSummary(read, id);
  if (!summary)
    throw new CountError(
      'unknown_election',
      `election ${id} is not in the log (checked ${head.size} records up to the latest checkpoint)`,
    );
  const { tally: latestTally, ...election } = summary;
  let tally: TallyBody | null = null;
  if (election.phase === 'close' || election.phase === 'final') {
    const seedSize = election.phases.close! + 1;
    tally = tallyOfState(read, election, {
      size: head.size,
      root: toBase64(head.root),
      seed: { size: seedSize, root: toBase64(replayer.rootAt(seedSize)) },
    });
  }
  return {
    v: 1,
    election,
    log: {
      origin: (read(stateKey.log()) as { origin: string } | undefined)?.origin ?? '',
      size: head.size,
      root: toBase64(head.root),
      checkpoint: note,
    },
    tally,
    tallyRecord: latestTally ? { index: latestTally.index, size: latestTally.size } : null,
    results: electionResults(election, replayer.state.entries(), opts),
  };
}
