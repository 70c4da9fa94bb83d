import { defineConfig } from 'vitest/config';

// Integration tests start their own mosquitto and influxd; on a 2-core machine running
// files one at a time keeps them from starving each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // After each test file's own hooks: stops services a failed hook left running, removes its temp folders.
    setupFiles: ['test/setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
