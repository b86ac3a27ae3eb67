/** `urna verify proofs`: JSON-lines probes on stdin, one `ok` / `fail <reason>` line each. */
import { createInterface } from 'node:readline';
import { checkProbe } from '../../verifier/proofs.js';
import { UsageError } from './usage-error.js';

export async function verifyCommand(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what !== 'proofs' || rest.length) throw new UsageError('usage: urna verify proofs < probes.jsonl');
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
}
