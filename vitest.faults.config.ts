import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`): crashes, outages, tracker storms, fuzzed input and
// property-based convergence, against its own Postgres and Redis started by the global setup on
// free ports. Files run one at a time: they stop servers, kill processes and measure latency and
// pacing, which a second file competing for the two cores would make flaky.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/support/global-setup.ts'],
    setupFiles: ['test/faults/support/setup-env.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
