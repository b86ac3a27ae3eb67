/**
 * Crash safety with real processes: `urna serve` on LevelDB is loaded over
 * loopback and killed with SIGKILL at random moments — by the test, or by
 * its own failure injector between two steps of a batch — then restarted.
 * After every round: every entry that got a receipt is in the log at its
 * index, the new checkpoint is consistent with every checkpoint seen
 * before, and the tree recomputed from the served tiles has the signed root.
 */
import { describe, expect, it } from 'vitest';
import type { FaultPoint } from '../../services/sequencer/sequencer.js';
import { tempDir } from '../helpers/log.js';
import { checkLog, load, type Receipted } from '../helpers/audit.js';
import { startServer } from '../helpers/process.js';

const ROUNDS = 24;
const POINTS: Array<FaultPoint | 'external'> = [
  'external',
  'batch-start',
  'after-admit',
  'before-commit',
  'after-commit',
  'after-sign',
  'after-checkpoint-write',
  'after-answer',
];

describe('crash safety of urna serve (kill -9, failure injection)', () => {
  it(`loses no receipted entry and never forks over ${ROUNDS} kill -9 rounds`, async () => {
    const { dir, cleanup } = await tempDir('urna-crash-');
    const receipted: Receipted[] = [];
    const seen = new Set<string>();
    let lastSize = 0;
    let injected = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const point = POINTS[round % POINTS.length]!;
        const env: Record<string, string> =
          point === 'external' ? {} : { URNA_CRASH_AT: point, URNA_CRASH_PROBABILITY: '0.2' };
        const server = await startServer(['--data', dir, '--batch-ms', '10', '--rules', 'none'], env);
        const killAfter = 150 + Math.floor(Math.random() * 600);
        let killedByTest = false;
        const killer = setTimeout(() => {
          killedByTest = true;
          void server.kill();
        }, killAfter);
        await load(server, `round ${round}`, killAfter + 2000, receipted, seen);
        clearTimeout(killer);
        await server.kill();
        if (!killedByTest) injected++;

        const checker = await startServer(['--data', dir, '--rules', 'none']);
        try {
          const { checkpoint: now } = await checkLog(checker, receipted, seen);
          expect(now.size).toBeGreaterThanOrEqual(lastSize);
          lastSize = now.size;
        } finally {
          await checker.stop();
        }
      }
      expect(receipted.length).toBeGreaterThan(ROUNDS);
      // The failure injector really fired between batch steps in some rounds.
      expect(injected).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });
});
