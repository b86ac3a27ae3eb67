import { defineConfig } from 'vitest/config';

// Two projects: `quick` (unit, property, vector and in-process HTTP tests, run
// often) and `slow` (real processes: crashes, storage faults, a full disk,
// abuse, NATS clusters, the CLI).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'quick',
          include: ['test/**/*.test.ts'],
          exclude: ['test/slow/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: ['test/slow/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
