/** `urna verify proofs` (JSON-lines probes on stdin) and `urna verify alarm` (a split-view alarm, offline). */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { EvidenceError, parseAlarm, verifySplitView } from '../../ledger/alarm.js';
import { toBase64 } from '../../ledger/bytes.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { checkProbe } from '../../verifier/proofs.js';
import { LOG_KEY_FLAG, readVerifierKeyArg } from './client-common.js';
import type { Command } from './command.js';
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
