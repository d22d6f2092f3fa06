/**
 * Playwright drives Debian's Chromium (Playwright cannot download its own
 * browser on a closed network): `$CHROMIUM_PATH`, else /usr/bin/chromium,
 * which `npm test` installs with apt-get when missing. Specs live under e2e/
 * (`*.spec.ts`; e2e/browser for the package, e2e/demo for `npm run demo`) and
 * load the BUILT package, so `npm run build` comes first. The JSON report
 * feeds the pass count of `npm test`. Every launch gets a fresh temporary
 * user-data-dir from Playwright.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list'], ['json', { outputFile: '.tmp/playwright.json' }]],
  use: {
    headless: true,
    // Only loopback: no service worker, update, sync or QUIC probe may reach out.
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
    trace: 'off',
  },
});
