// The browser tests (*.spec.mjs) on @playwright/test, driving Debian's Chromium: no browser is
// downloaded (playwright-core's install step is never run), so the executable is named here.
//
// Environment: BASE_URL (the server under test; tests/api/e2e.rs starts one per spec),
// CHROMIUM (default /usr/bin/chromium), E2E_OUTPUT_DIR (traces and screenshots of failed
// tests; default a folder in the system's temporary directory).

import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.mjs',
  // One machine of 2 cores runs the Rust suite beside: one browser at a time per spec run.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  // Each spec file is one story whose steps build on each other (test.describe.serial); a
  // step gets this long unless it says otherwise (the session spec waits for token lifetimes).
  timeout: 60_000,
  globalTimeout: 600_000,
  expect: { timeout: 10_000 },
  // `list` prints a line per test and each failure in full (the assertion, its call site, the
  // page's state): tests/api/e2e.rs shows this output when the run fails.
  reporter: [['list', { printSteps: false }]],
  outputDir: process.env.E2E_OUTPUT_DIR || path.join(os.tmpdir(), 'switchboard-e2e'),
  use: {
    browserName: 'chromium',
    baseURL: (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    actionTimeout: 10_000,
    navigationTimeout: 10_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
