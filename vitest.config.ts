import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Two cores: two test files at a time, each with its own server and engine.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/aws/**'], sequence: { groupOrder: 0 } } },
      // The AWS suite (npm run test:aws) has latency assertions: it runs after the rest, on its own.
      { extends: true, test: { name: 'aws', include: ['test/aws/**/*.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
