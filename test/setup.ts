import { afterAll } from 'vitest';
import { cleanUpTestFile } from './helpers/services.js';

// Setup file of every test file (vitest.config.ts `setupFiles`). Its afterAll is registered
// before the test file's own hooks, and vitest runs "after" hooks in reverse order (the default
// `sequence.hooks: 'stack'`; those of a describe block before the file's), so it runs last:
// it stops services a failed hook left running, then removes the file's temp folders, which
// those services and the file's pipelines no longer use by then.
afterAll(() => cleanUpTestFile());
