import { defineConfig } from 'vitest/config';

// Integration tests start their own mosquitto and influxd; on a 2-core machine running
// files one at a time keeps them from starving each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
