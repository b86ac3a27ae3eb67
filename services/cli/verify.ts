/** `urna verify proofs`: JSON-lines probes on stdin, one `ok` / `fail <reason>` line each. */
import { createInterface } from 'node:readline';
import { checkProbe } from '../../verifier/proofs.js';
import type { Command } from './command.js';

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
