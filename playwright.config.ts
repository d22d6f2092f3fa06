/**
 * Playwright runs the e2e/ specs in the system's Chromium (Playwright's own
 * browser download does not work on a closed network): $CHROMIUM_PATH or
 * /usr/bin/chromium. Minimal version made for the demo's specs (issue 9);
 * the e2e owner (issue 5) extends it.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  timeout: 60_000,
  reporter: [['list'], ['json', { outputFile: '.tmp/playwright.json' }]],
  outputDir: 'test-results',
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
