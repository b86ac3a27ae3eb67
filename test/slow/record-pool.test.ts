/**
 * RecordPool.close() in a process with nothing else to wait for: the await
 * must settle, so that a command's `await pool.close()` in a finally block
 * ends with its own exit code. On Node 20 a worker's exit event could arrive
 * after the event loop had emptied, and the process then ended with code 13
 * (an unsettled top-level await) though every job had been answered: `urna
 * verify audit` refusing a forged record did so in about one run in ten.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../helpers/pool-close-child.ts', import.meta.url));
const ROUNDS = 50; // before the fix, the race hit within 20 rounds in 3 runs of 5

it(`close() settles every time it is awaited last (${ROUNDS} rounds in one process)`, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(ROUNDS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  expect({ code, out }).toEqual({ code: 0, out: `closed ${ROUNDS}` });
}, 120_000);
