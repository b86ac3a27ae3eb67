/**
 * `urna verify`: proofs (JSON-lines probes on stdin), alarm (a split-view
 * alarm, offline), and checkpoint, receipt, inclusion and consistency (the
 * verifier library, verifier/verify.ts).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Presets, SingleBar } from 'cli-progress';
import { createInterface } from 'node:readline';
import { EvidenceError, formatAlarm, parseAlarm, verifySplitView } from '../../ledger/alarm.js';
import { fromBase64, toBase64, toHex } from '../../ledger/bytes.js';
import { verifiedAhead } from '../../ledger/ed25519.js';
import { checkSpoiledBallot, type SpoiledFailure } from '../../ledger/encrypted-election.js';
import { decodeRecord, type SpoiledRecord } from '../../ledger/record.js';
import { spoiledTracker } from '../../ledger/rules.js';
import { CeremonyRecordError, KeyNotFixedError, readEncryptionContext } from '../../verifier/ceremony.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import type { ReceiptSubject } from '../../ledger/receipt.js';
import { LogError } from '../../verifier/client.js';
import { checkProbe } from '../../verifier/proofs.js';
import { auditLog, type AuditReport } from '../../verifier/audit.js';
import { LogReader } from '../../verifier/reader.js';
import type { ReplaySnapshot } from '../../verifier/replayer.js';
import { useNativeCrypto } from '../crypto/native.js';
import { RecordPool } from '../crypto/record-pool.js';
import { MARGIN_FLAG, parseShare } from './count.js';
import {
  NotVerifiedError,
  trackerSubject,
  verifiedCheckpoint,
  verifyBallot,
  verifyCheckpoint,
  verifyConsistency,
  verifyReceiptAgainstLog,
  verifyReceiptOffline,
  type CheckpointVerdict,
  type Trust,
} from '../../verifier/verify.js';
import { LOG_KEY_FLAG, readVerifierKeyArg, say } from './client-common.js';
import { choicesText, parseSpoiled } from './encrypted-ballot.js';
import type { Command, Flag, Parsed } from './command.js';
import { UsageError } from './usage-error.js';

export const verifyProofsCommand: Command = {
  name: 'verify proofs',
  summary:
    'checks inclusion and consistency probes (JSON lines on stdin), printing ok or fail and why for each',
  description: `Reads JSON lines on stdin, each an inclusion or consistency probe in the schema of
    transparency-dev/merkle's testdata (test/vectors/merkle), and prints "ok" or "fail <reason>" for each, in order;
    a malformed probe is a failure. Blank lines are skipped. Exits 0 when every line was read (whatever the probes
    say), 2 at the first line that is not JSON.`,
  flags: [],
  async run() {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let probe: unknown;
      try {
        probe = JSON.parse(line);
      } catch {
        process.stderr.write(`urna verify proofs: line ${lineNo} is not JSON\n`);
        return 2;
      }
      process.stdout.write(checkProbe(probe) + '\n');
    }
    return 0;
  },
};

export const verifyAlarmCommand: Command = {
  name: 'verify alarm',
  args: 'FILE',
  summary: "checks a monitor's split-view alarm offline: exit 0 when it proves a fork, 1 when it does not",
  description: `Reads an alarm (urna/split-view-alarm/v1, as urna monitor writes it) and checks, with nothing but the
    log's verifier key, that it proves the log signed two trees that cannot both be true: two checkpoints of one size
    with different roots, or, for different sizes, a consistency proof showing that the larger tree's root at the
    smaller size is not the smaller checkpoint's root. Prints "fork proven" and the two tree heads (exit 0), or "not
    proven" and why (exit 1); exit 2 for a file that is not an alarm or a bad key.`,
  flags: [LOG_KEY_FLAG],
  async run(p) {
    const [file] = p.positionals as [string];
    let evidence;
    let key;
    try {
      evidence = parseAlarm(await readFile(file, 'utf8'));
      key = parseVerifierKey(await readVerifierKeyArg(p.required('log-key')));
    } catch (e) {
      throw new UsageError(`${e instanceof Error ? e.message : e}`);
    }
    try {
      const [a, b] = verifySplitView(evidence, key);
      const head = (c: { size: number; root: Uint8Array }) => `size ${c.size} root ${toBase64(c.root)}`;
      process.stdout.write(`fork proven: ${key.name} signed\n  ${head(a)}\n  ${head(b)}\n`);
      return 0;
    } catch (e) {
      if (!(e instanceof EvidenceError)) throw e;
      process.stdout.write(`not proven: ${e.message}\n`);
      return 1;
    }
  },
};

// ---- checkpoint, receipt, inclusion, consistency (verifier/verify.ts) ----
//
// Exit codes that scripts can rely on: 0 verified, 1 not verified (the
// reason on stdout), 2 usage, unreadable input or an unreachable source.

const WITNESS_POLICY_FLAG: Flag = {
  name: 'witness-policy',
  value: 'FILE',
  env: 'URNA_WITNESS_POLICY',
  help: 'a C2SP tlog-policy file: the checkpoint must be cosigned by its quorum of witnesses',
};
const JSON_FLAG: Flag = { name: 'json', help: 'print the verdict as one JSON object instead of text' };
const SOURCE_FLAG: Flag = {
  name: 'log',
  value: 'URL',
  help: 'any tlog-tiles source of the log: the log, a mirror, or a static copy of its tiles',
};

async function readTrust(p: Parsed): Promise<Trust> {
  let logKey: string;
  try {
    logKey = await readVerifierKeyArg(p.required('log-key'));
    parseVerifierKey(logKey.trim());
  } catch (e) {
    throw new UsageError(`--log-key: ${e instanceof Error ? e.message : e}`);
  }
  const file = p.string('witness-policy');
  if (!file) return { logKey };
  try {
    return { logKey, policy: parsePolicy(await readFile(file, 'utf8')) };
  } catch (e) {
    throw new UsageError(`--witness-policy ${file}: ${e instanceof Error ? e.message : e}`);
  }
}

async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${e instanceof Error ? e.message : e}`);
  }
}

function sourceReader(p: Parsed, trust: Trust): LogReader {
  const url = p.required('log');
  try {
    return new LogReader(url, { logKey: trust.logKey, http: { maxRetries: 2, maxDelayMs: 1000 } });
  } catch (e) {
    throw new UsageError(`--log ${url}: ${e instanceof Error ? e.message : e}`);
  }
}

function headLines(v: CheckpointVerdict): string[] {
  const c = v.checkpoint;
  return [
    `  log ${c.origin}, size ${c.size}, root ${toBase64(c.root)}`,
    ...(v.quorum === null
      ? []
      : [`  witnesses: ${v.cosigned.join(', ') || 'none'} (quorum ${v.quorum ? 'met' : 'not met'})`]),
  ];
}

function headJson(v: CheckpointVerdict) {
  const c = v.checkpoint;
  return { origin: c.origin, size: c.size, root: toBase64(c.root), cosigned: v.cosigned, quorum: v.quorum };
}

/**
 * Runs a verification and prints its verdict: 0 when `check` returns one,
 * 1 with the reason for a NotVerifiedError, 2 (UsageError) for a source that
 * does not answer. Other errors propagate (exit 1 with the message).
 */
async function verdict<T>(
  p: Parsed,
  check: () => Promise<T>,
  text: (v: T) => string[],
  json: (v: T) => object,
): Promise<number> {
  const asJson = p.bool('json');
  try {
    const v = await check();
    process.stdout.write(
      asJson ? JSON.stringify({ verified: true, ...json(v) }) + '\n' : text(v).join('\n') + '\n',
    );
    return 0;
  } catch (e) {
    if (e instanceof NotVerifiedError) {
      const alarmFile = e.evidence && p.string('alarm');
      if (alarmFile) writeFileSync(alarmFile, formatAlarm(e.evidence!), { mode: 0o644 });
      const saved = alarmFile ? ` (the evidence is in ${alarmFile}: urna verify alarm checks it)` : '';
      process.stdout.write(
        asJson
          ? JSON.stringify({
              verified: false,
              code: e.reason.code,
              reason: e.message,
              ...(alarmFile ? { alarm: alarmFile } : {}),
            }) + '\n'
          : `not verified: ${e.message}${saved}\n`,
      );
      return 1;
    }
    if (e instanceof LogError) throw new UsageError(`the source does not answer: ${e.message}`);
    throw e;
  }
}

export const verifyCheckpointCommand: Command = {
  name: 'verify checkpoint',
  args: '[FILE]',
  summary: "checks a checkpoint (a file, or --log's latest) against the log key and a witness policy",
  description: `Checks a signed checkpoint (C2SP tlog-checkpoint) read from FILE, or the latest of --log (any tlog-tiles
    source): that the log signed it, and with --witness-policy that the policy's quorum of witnesses cosigned it
    (C2SP tlog-cosignature, tlog-policy). Prints the tree head and the witnesses. Exit 0 verified, 1 not verified
    (with why), 2 usage or an unreachable source.`,
  flags: [LOG_KEY_FLAG, WITNESS_POLICY_FLAG, SOURCE_FLAG, JSON_FLAG],
  async run(p) {
    const [file] = p.positionals;
    const hasLog = p.string('log') !== undefined;
    if ((file === undefined) === !hasLog)
      throw new UsageError('give a checkpoint FILE or --log URL (one of them)');
    const trust = await readTrust(p);
    const note = file !== undefined ? await readInput(file, 'checkpoint') : undefined;
    return verdict(
      p,
      async () => verifyCheckpoint(note ?? (await sourceReader(p, trust).client.checkpoint()).note, trust),
      (v) => ['verified: a checkpoint of the log', ...headLines(v)],
      (v) => ({ checkpoint: headJson(v) }),
    );
  },
};

export const verifyReceiptCommand: Command = {
  name: 'verify receipt',
  args: 'FILE',
  summary:
    'checks a receipt offline: the entry is included under a checkpoint the log signed (and witnesses cosigned)',
  description: `Checks a receipt (C2SP tlog-proof, as urna election cast saves it) with nothing but the keys: its
    checkpoint is signed by the log (and, with --witness-policy, cosigned by the policy's quorum), and its inclusion
    proof puts the entry at its index in that tree. The entry is --entry FILE (its bytes) or --tracker HEX (its leaf
    hash); without either, a file named TRACKER.receipt gives the tracker. No network, unless --log is given: then
    the latest checkpoint of --log must also extend the receipt's (a log that forked since issuing it is caught;
    with --alarm the evidence is written there), and with --witness-policy it is enough that the witnesses cosigned
    either (a receipt issued at submission, before they cosigned, is checked this way). Exit 0 verified, 1 not
    verified (with why), 2 usage or an unreachable --log.`,
  flags: [
    LOG_KEY_FLAG,
    WITNESS_POLICY_FLAG,
    { name: 'tracker', value: 'HEX', help: 'the ballot tracker (the entry’s leaf hash, 64 hex digits)' },
    { name: 'entry', value: 'FILE', help: 'the entry’s bytes (the signed record as submitted)' },
    {
      ...SOURCE_FLAG,
      help: 'also check the receipt against the latest checkpoint of this tlog-tiles source',
    },
    { name: 'alarm', value: 'FILE', help: 'with --log, on a split view, write the evidence here' },
    JSON_FLAG,
  ],
  async run(p) {
    const [file] = p.positionals as [string];
    const trust = await readTrust(p);
    const text = await readInput(file, 'receipt');
    const entryFile = p.string('entry');
    const tracker = p.string('tracker') ?? /(?:^|\/)([0-9a-fA-F]{64})\.receipt$/.exec(file)?.[1];
    if (entryFile !== undefined && p.string('tracker') !== undefined)
      throw new UsageError('give --entry or --tracker, not both');
    let subject: ReceiptSubject;
    if (entryFile !== undefined) {
      try {
        subject = { entry: new Uint8Array(await readFile(entryFile)) };
      } catch (e) {
        throw new UsageError(`--entry ${entryFile}: ${e instanceof Error ? e.message : e}`);
      }
    } else if (tracker !== undefined) {
      if (!/^[0-9a-fA-F]{64}$/.test(tracker)) throw new UsageError('--tracker: expected 64 hex digits');
      subject = trackerSubject(tracker);
    } else throw new UsageError('give --entry FILE or --tracker HEX (or name the file TRACKER.receipt)');
    if (p.string('log') === undefined)
      return verdict(
        p,
        async () => verifyReceiptOffline(text, subject, trust),
        (v) => [
          `verified: entry ${v.index} (tracker ${v.tracker}) is in the log`,
          ...headLines(v.checkpoint),
        ],
        (v) => ({ index: v.index, tracker: v.tracker, checkpoint: headJson(v.checkpoint) }),
      );
    const reader = sourceReader(p, trust);
    return verdict(
      p,
      () => verifyReceiptAgainstLog(reader, text, subject, trust),
      (v) => [
        `verified: entry ${v.index} (tracker ${v.tracker}) is in the log, and the log's latest checkpoint extends the receipt's`,
        ...headLines(v.checkpoint),
        ...headLines(v.latest),
      ],
      (v) => ({
        index: v.index,
        tracker: v.tracker,
        checkpoint: headJson(v.checkpoint),
        latest: headJson(v.latest),
      }),
    );
  },
};

export const verifyInclusionCommand: Command = {
  name: 'verify inclusion',
  args: 'TRACKER',
  summary:
    "proves a ballot's inclusion from --log, and whether it counts, saying what was proven and what is the log's word",
  description: `Finds the ballot with TRACKER (its leaf hash) in the log's index (GET /ballots/TRACKER; with --index N
    on a static copy, which has none), reads that entry through tiles authenticated against the latest checkpoint
    (verified with --log-key and, with --witness-policy, its quorum), and checks its leaf hash and signature. Where the
    index says the ballot no longer counts, the evidence is proven too: the later ballot of the same credential, or the
    paper-vote override. That a ballot is its credential's last stays the log's word, and is printed as such. Exit 0
    verified, 1 not verified (with why: not in the log, another entry, a bad proof), 2 usage or an unreachable source.`,
  flags: [
    LOG_KEY_FLAG,
    WITNESS_POLICY_FLAG,
    { ...SOURCE_FLAG, required: true },
    { name: 'index', value: 'N', help: "the ballot's index, for a source without an index of ballots" },
    JSON_FLAG,
  ],
  async run(p) {
    const [tracker] = p.positionals as [string];
    if (!/^[0-9a-fA-F]{64}$/.test(tracker)) throw new UsageError('TRACKER: expected 64 hex digits');
    const trust = await readTrust(p);
    const reader = sourceReader(p, trust);
    const index = p.string('index') === undefined ? undefined : p.requiredInt('index', 0);
    return verdict(
      p,
      () => verifyBallot(reader, tracker, trust, index === undefined ? {} : { index }),
      (v) => [
        `verified: ballot ${v.tracker} is entry ${v.index} of the log (${v.status})`,
        ...headLines(v.checkpoint),
        ...v.proven.map((s) => `  proven: ${s}`),
        ...v.claimed.map((s) => `  the log says: ${s}`),
      ],
      (v) => ({
        tracker: v.tracker,
        index: v.index,
        election: v.election,
        credential: v.credential,
        status: v.status,
        checkpoint: headJson(v.checkpoint),
        proven: v.proven,
        claimed: v.claimed,
      }),
    );
  },
};

export const verifyConsistencyCommand: Command = {
  name: 'verify consistency',
  summary: "proves --log's latest checkpoint extends an earlier one you kept (no history rewritten)",
  description: `Checks that the latest checkpoint of --log (any tlog-tiles source) extends the checkpoint in --from (one
    you saved earlier, from a receipt, a witness or a newspaper): both signed by the log, and the latest tree holding the
    earlier root at the earlier size (RFC 9162 §2.1.4), computed from tiles authenticated against the latest. A
    mismatch is a split view: with --alarm the evidence (both checkpoints, and the latest tree's root at the earlier
    size with its consistency proof) is written as an alarm file that urna verify alarm checks with the log key
    alone. Exit 0 verified, 1 not verified (with why), 2
    usage or an unreachable source. With --witness-policy the witnesses of both checkpoints are shown (their quorum is
    not required here: verify checkpoint requires it).`,
  flags: [
    LOG_KEY_FLAG,
    WITNESS_POLICY_FLAG,
    { ...SOURCE_FLAG, required: true },
    { name: 'from', value: 'FILE', required: true, help: 'the earlier checkpoint (a signed note)' },
    {
      name: 'alarm',
      value: 'FILE',
      help: 'on a split view, write the evidence here (urna/split-view-alarm/v1)',
    },
    JSON_FLAG,
  ],
  async run(p) {
    const trust = await readTrust(p);
    const from = await readInput(p.required('from'), '--from');
    const reader = sourceReader(p, trust);
    return verdict(
      p,
      () => verifyConsistency(reader, from, trust),
      (v) => [
        `verified: the log's checkpoint of size ${v.to.checkpoint.size} extends yours of size ${v.from.checkpoint.size}`,
        ...headLines(v.to),
      ],
      (v) => ({ from: headJson(v.from), to: headJson(v.to) }),
    );
  },
};

// ---- audit ----

/** The state file of `urna verify audit --state`: the replay so far, to resume from. */
type AuditState = { v: 1; logKey: string; size: number; leaves: string; state: ReplaySnapshot['state'] };

function readAuditState(file: string, logKey: string): ReplaySnapshot | undefined {
  if (!existsSync(file)) return undefined;
  let s: AuditState;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as AuditState;
  } catch (e) {
    throw new UsageError(`--state ${file}: not an audit state file (${e instanceof Error ? e.message : e})`);
  }
  if (s.v !== 1 || typeof s.size !== 'number' || !Array.isArray(s.state))
    throw new UsageError(`--state ${file}: not an audit state file`);
  if (s.logKey.trim() !== logKey.trim())
    throw new UsageError(`--state ${file}: the saved replay is of another log (${s.logKey.trim()})`);
  return { size: s.size, leaves: fromBase64(s.leaves), state: s.state };
}

/** Writes the replay so far to `file` (a temporary file renamed over it: never half a state). */
function writeAuditState(file: string, logKey: string, snap: ReplaySnapshot): void {
  const s: AuditState = { v: 1, logKey, size: snap.size, leaves: toBase64(snap.leaves), state: snap.state };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Progress on stderr: a bar with rate and ETA on a terminal, a plain line every 5 seconds otherwise. */
function auditProgress(): { update(size: number, of: number): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      {
        stream: process.stderr,
        format:
          'audit [{bar}] {percentage}% | {value}/{total} entries | {rate} entries/s | ETA {eta_formatted}',
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    let started = false;
    const t0 = performance.now();
    let first = 0;
    return {
      update(size, of) {
        if (!started) {
          bar.start(of, size, { rate: '-' });
          started = true;
          first = size;
        }
        const s = (performance.now() - t0) / 1000;
        bar.update(size, { rate: s > 0 ? Math.round((size - first) / s) : '-' });
      },
      stop: () => bar.stop(),
    };
  }
  const t0 = performance.now();
  let last = 0;
  let first: number | null = null;
  return {
    update(size, of) {
      first ??= size;
      const now = performance.now();
      if (now - last < 5000 && size < of) return;
      last = now;
      const rate = (size - first) / Math.max(0.001, (now - t0) / 1000);
      const eta = rate > 0 ? `${Math.ceil((of - size) / rate)} s` : '-';
      process.stderr.write(
        `urna verify audit: ${size}/${of} entries (${((100 * size) / Math.max(1, of)).toFixed(1)}%), ${Math.round(rate)} entries/s, ETA ${eta}\n`,
      );
    },
    stop() {},
  };
}

function auditText(r: AuditReport): string[] {
  const lines = [
    `verified: the log's ${r.log.size} entries replay to the checkpoint's root` +
      (r.resumedFrom ? ` (resumed at ${r.resumedFrom})` : ''),
    `  log ${r.log.origin}, size ${r.log.size}, root ${r.log.root}`,
    ...(r.log.quorum === null ? [] : [`  witnesses: ${r.log.cosigned.join(', ') || 'none'}`]),
    '  every signature, every rule, every tally record recomputed and matched, every report checked',
  ];
  for (const e of r.elections) {
    lines.push(
      `election ${e.id} (${e.title}): ${e.phase}; ${e.counts.ballots} ballots by ${e.counts.voters} voters, ` +
        `${e.counts.overrides} overrides, ${e.counts.reports} reports, ${e.counts.tallies} tally records` +
        (e.latestTally
          ? ` (latest at index ${e.latestTally.index}, counting ${e.latestTally.size} entries)`
          : ''),
    );
    if (e.tally)
      for (const [id, c] of Object.entries(e.tally.contests))
        lines.push(
          `  ${id}: ${c.provisional ? 'provisional' : 'final'}; ` +
            Object.entries(c.counted.votes)
              .map(([o, n]) => `${o} ${n}`)
              .join(', ') +
            `; seats ${Object.entries(c.seats.seats)
              .filter(([, n]) => n > 0)
              .map(([o, n]) => `${o} ${n}`)
              .join(', ')}`,
        );
    const by = (k: string) => e.discrepancies.filter((d) => d.kind === k).length;
    lines.push(
      `  discrepancies: ${by('differs')} beyond the margin, ${by('no_final')} without a final report, ${by('unreported')} unreported`,
    );
  }
  return lines;
}

export const verifyAuditCommand: Command = {
  name: 'verify audit',
  summary:
    'replays the whole log from --log: every tile, signature, rule and tally recomputed; a report in text and JSON',
  description: `Audits the log behind --log (any tlog-tiles source: the log, a mirror, a static copy) up to its latest
    checkpoint, verified with --log-key and, with --witness-policy, its quorum: every entry is read through tiles
    authenticated against the checkpoint's tree, every signature checked (on all cores), every record re-run through
    the election rules, so that every tally record is recomputed with the counting function and compared, and every
    report's district, contest and protocol hash is checked; then the tree's root is compared with the checkpoint's.
    Prints, per election, the counts, the tally at the checkpoint and the discrepancies; --report writes the same as
    JSON. Progress goes to stderr (a bar with rate and ETA on a terminal, plain lines otherwise). With --state the
    replay is saved as it goes and an interrupted audit resumes from it (the file is yours: it is not re-verified,
    but the whole tree's root still is). Exit 0 verified, 1 not verified (with the index of the first entry that is
    not the log's), 2 usage or an unreachable source.`,
  flags: [
    LOG_KEY_FLAG,
    WITNESS_POLICY_FLAG,
    { ...SOURCE_FLAG, required: true },
    { name: 'state', value: 'FILE', help: 'save the replay here as it goes, and resume from it' },
    { name: 'report', value: 'FILE', help: 'also write the report as JSON to FILE' },
    MARGIN_FLAG,
    JSON_FLAG,
  ],
  async run(p) {
    useNativeCrypto();
    const trust = await readTrust(p);
    const reader = sourceReader(p, trust);
    const stateFile = p.string('state');
    const resume = stateFile ? readAuditState(stateFile, trust.logKey) : undefined;
    const reportFile = p.string('report');
    const margin = parseShare(p.string('margin')!, 'margin');
    const pool = new RecordPool();
    const progress = auditProgress();
    try {
      return await verdict(
        p,
        async () => {
          const report = await auditLog(reader, trust, {
            ...pool.replayWork(),
            margin,
            onProgress: (size, of) => progress.update(size, of),
            ...(resume ? { resume } : {}),
            ...(stateFile
              ? { onSave: (s: ReplaySnapshot) => writeAuditState(stateFile, trust.logKey, s) }
              : {}),
          });
          progress.stop();
          if (reportFile) await writeFile(reportFile, JSON.stringify(report, null, 2) + '\n');
          return report;
        },
        auditText,
        (r) => ({ report: r }),
      );
    } finally {
      progress.stop();
      await pool.close();
    }
  },
};

// ---- spoiled ballots (urna cast --challenge) ----

/** Why a spoiled ballot did not verify: `code` for scripts, the message for people. */
class SpoiledNotVerified extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SPOILED_FAILURE: { [code in SpoiledFailure['code']]: string } = {
  proofs: 'its proofs do not verify for its credential under the election key',
  openings: "its openings are not one per contest of the ballot, in the ballot's order",
  nonces: 'the nonces of contest %s do not open its ciphertexts',
  choices: 'contest %s encrypts other choices than the file states',
};

export const verifySpoiledCommand: Command = {
  name: 'verify spoiled',
  args: 'FILE',
  summary:
    'checks a spoiled ballot (urna cast --challenge): its tracker, its proofs, and that it encrypts the stated choices',
  description: `Checks a spoiled ballot's file (urna/spoiled-ballot/v1, as urna cast --challenge writes it) against the
    election on --log (any source of the log with its API): the ballot record is validly signed by its credential and
    its leaf hash is the tracker the file states (the one urna cast printed), its proofs verify under the election's
    key, and each contest's nonces open its ciphertexts to exactly the choices the file states. The election's hash,
    contests and key come from its election record and every guardian's guardian and accept records, read through
    tiles authenticated against the latest checkpoint signed by --log-key (with --witness-policy, cosigned by its
    quorum). Also says whether the log holds this ballot's spoiled record (which urna cast --challenge publishes, so
    the ballot can never be cast: the log's index of trackers says where, and that entry is read authenticated and
    checked to be the spoiled record of this very ballot; a false index is not verified), or else, as a warning, the
    ballot itself or nothing (the log's word). Exit 0 verified, 1 not verified (with why), 2 usage, an unreadable
    file or an unreachable source.`,
  flags: [
    LOG_KEY_FLAG,
    WITNESS_POLICY_FLAG,
    { ...SOURCE_FLAG, required: true },
    {
      name: 'election',
      value: 'ID',
      help: 'the election the ballot must be of (default: the one the file names)',
    },
    JSON_FLAG,
  ],
  async run(p) {
    const [file] = p.positionals as [string];
    const { file: spoiled, bytes, openings } = parseSpoiled(await readInput(file, 'spoiled ballot'), file);
    const trust = await readTrust(p);
    const reader = sourceReader(p, trust);
    const asJson = p.bool('json');
    try {
      const id = spoiled.election;
      const wanted = p.string('election');
      if (wanted !== undefined && wanted !== id)
        throw new SpoiledNotVerified(
          'wrong_election',
          `the spoiled ballot is of election ${id}, not ${wanted}`,
        );
      let decoded;
      try {
        decoded = await verifiedAhead(() => decodeRecord(bytes));
      } catch (e) {
        throw new SpoiledNotVerified(
          'bad_record',
          `the ballot is not a valid signed record: ${e instanceof Error ? e.message : e}`,
        );
      }
      const record = decoded.record;
      if (record.type !== 'ballot' || record.election !== id || !('encrypted' in record.body))
        throw new SpoiledNotVerified(
          'bad_record',
          `the file's record is not an encrypted ballot of election ${id}`,
        );
      const tracker = toHex(decoded.leafHash);
      if (tracker !== spoiled.tracker.toLowerCase())
        throw new SpoiledNotVerified(
          'wrong_tracker',
          `the ballot's tracker is ${tracker}, not ${spoiled.tracker} as the file states`,
        );
      const cp = await verifiedCheckpoint(reader, trust).catch((e: unknown) => {
        if (e instanceof NotVerifiedError) throw new SpoiledNotVerified(e.reason.code, e.message);
        throw e;
      });
      let summary;
      try {
        summary = await reader.client.election(id);
      } catch (e) {
        if (e instanceof LogError && e.status === 404)
          throw new SpoiledNotVerified('no_election', `the log has no election ${id}`);
        throw e;
      }
      let source;
      try {
        source = await readEncryptionContext(reader, summary, { head: cp.head });
      } catch (e) {
        if (e instanceof KeyNotFixedError || e instanceof CeremonyRecordError)
          throw new SpoiledNotVerified(e.code, e.message);
        throw e;
      }
      const verdict = checkSpoiledBallot(source.ctx, record.body, fromBase64(record.signer), openings);
      if (!verdict.ok) {
        const f = verdict.failure;
        throw new SpoiledNotVerified(
          `spoiled_${f.code}`,
          SPOILED_FAILURE[f.code].replace('%s', 'contest' in f ? f.contest : '') +
            (f.code === 'choices' ? ` (it encrypts ${choicesText({ [f.contest]: f.encrypted })})` : ''),
        );
      }
      /** Whether entry `index`, authenticated under the checkpoint, is the spoiled record of this ballot; throws if it is not. */
      const isSpoiledRecord = async (index: number): Promise<boolean> => {
        if (index >= cp.head.size) return false;
        const entry = await reader.entry(index, cp.head);
        const at = await verifiedAhead(() => decodeRecord(entry)).catch(() => null);
        if (at?.record.type !== 'spoiled' || spoiledTracker(at.record as SpoiledRecord) !== tracker)
          throw new SpoiledNotVerified(
            'index_lies',
            `the log says entry ${index} is this ballot's spoiled record; it is not`,
          );
        return true;
      };
      // Where the log's index puts the ballot: spoiled (that record proven here when under the checkpoint), or cast.
      let cast: number | null = null;
      let spoiledAt: { index: number; proven: boolean } | null = null;
      try {
        const status = await reader.client.ballot(tracker);
        if (status.status !== 'spoiled') cast = status.index;
        else spoiledAt = { index: status.index, proven: await isSpoiledRecord(status.index) };
      } catch (e) {
        if (!(e instanceof LogError && e.status === 404)) throw e;
      }
      const size = source.view.head.size;
      if (asJson)
        process.stdout.write(
          JSON.stringify({
            verified: true,
            election: id,
            tracker,
            credential: record.signer,
            choices: verdict.choices,
            size,
            cast,
            spoiled: spoiledAt?.index ?? null,
            spoiledProven: spoiledAt?.proven ?? false,
          }) + '\n',
        );
      else
        say(
          `verified: spoiled ballot ${tracker} of election ${id} encrypts ${choicesText(verdict.choices)}`,
          `  signed by credential ${record.signer}; its proofs verify under the key all ${source.view.guardians.size} guardians accepted (log size ${size})`,
          spoiledAt !== null
            ? spoiledAt.proven
              ? `  the log holds its spoiled record at index ${spoiledAt.index} (proven under the checkpoint): it can never be cast`
              : `  the log holds its spoiled record at index ${spoiledAt.index} (the log's word: not yet under the checkpoint): it can never be cast`
            : cast === null
              ? "  warning: the log holds no spoiled record of this ballot, nor the ballot (the log's word): it was not published as spoiled, and the signed ballot in the file could still be cast"
              : `  warning: the log holds this ballot at index ${cast}: it was cast after all`,
        );
      return 0;
    } catch (e) {
      if (e instanceof SpoiledNotVerified) {
        process.stdout.write(
          asJson
            ? JSON.stringify({ verified: false, code: e.code, reason: e.message }) + '\n'
            : `not verified: ${e.message}\n`,
        );
        return 1;
      }
      if (e instanceof LogError) throw new UsageError(`the source does not answer: ${e.message}`);
      throw e;
    }
  },
};
