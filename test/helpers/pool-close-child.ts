/**
 * A child process for test/slow/record-pool.test.ts: opens, uses (every job
 * rejected, as a forged record's is) and closes a RecordPool `ROUNDS` times
 * (argv[2]), each close awaited with nothing else keeping the process alive,
 * then prints `closed ROUNDS`. An unsettled close ends it with code 13 early.
 */
import { RecordPool } from '../../services/crypto/record-pool.js';

const rounds = Number(process.argv[2]);
const notARecord = new TextEncoder().encode('{"x":1}');
for (let i = 0; i < rounds; i++) {
  const pool = new RecordPool(2);
  const decoded = await pool.decodeAll(Array.from({ length: 400 }, () => notARecord)).then(
    () => true,
    () => false,
  );
  if (decoded) throw new Error('a non-record decoded');
  await pool.close();
}
process.stdout.write(`closed ${rounds}`);
