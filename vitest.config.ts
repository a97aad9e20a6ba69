import { configDefaults, defineConfig } from 'vitest/config';

// Integration tests talk to the real Postgres and Redis; each test file makes its own database
// and Redis key prefix, so files may run in parallel. Two workers match the 2-core machines.
// The global setup finds those servers, or starts private ones when none answers (README, Test it).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite needs its own servers and minutes: `npm run test:faults`.
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    // Under CI (.ci/run) a failed test runs once more, and vitest prints a test that passed only on
    // its retry as such. Several integration tests race real servers on two cores (a background
    // enqueue against a drain, a buffered log against a read); each race found is fixed in the
    // test, but one unfound race must not sink a run. Locally a failure is a failure at once.
    retry: process.env.CI ? 1 : 0,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
