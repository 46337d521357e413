import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**', 'web/ui/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI runs the real-peer suite on 2 shared cores, where a sipp or Kamailio timing race
    // (a log line, a queue state) can lose once; a test that fails twice is a failure.
    retry: process.env['CI'] ? 1 : 0,
  },
});
