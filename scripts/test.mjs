#!/usr/bin/env node
/**
 * `npm test`: every check, in order, against the built package. Installs
 * the system packages the e2e tests need first (see ensure-system-deps.mjs).
 * Ends with one line "N passed, N failed" summing every test runner.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('.tmp', { recursive: true });

/** Counts from a runner's JSON report, added up for the closing line. */
const totals = { passed: 0, failed: 0, skipped: 0 };

const steps = [
  ['system packages', 'node', ['scripts/ensure-system-deps.mjs']],
  ['lint', 'npx', ['eslint', '.']],
  ['typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['build', 'npm', ['run', 'build']],
  ['publint', 'npx', ['publint', '--strict']],
  ['arethetypeswrong', 'npx', ['attw', '--pack', '.', '--profile', 'esm-only']],
  ['unit and integration tests (vitest)', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile=.tmp/vitest.json'],
    () => countVitest('.tmp/vitest.json')],
  ['runtimes for the matrix, from npm (cached in .cache/runtimes)', 'node', ['scripts/runtimes.mjs']],
  ['runtime matrix: the behavioural suite in Node 20, 22, 24, Bun and Deno, each importing the packed package by name', 'npx',
    ['vitest', 'run', '--config', 'vitest.matrix.config.ts', '--reporter=verbose', '--reporter=json', '--outputFile=.tmp/vitest-matrix.json'],
    () => countVitest('.tmp/vitest-matrix.json')],
  ['bench harness smoke run (npm run bench -- --quick, no timing checks)', 'npx', ['tsx', 'bench/main.ts', '--quick']],
  ['end-to-end in Chromium (Playwright, built package)', 'npx', ['playwright', 'test'], () => countPlaywright('.tmp/playwright.json')],
];

for (const [name, command, args, count] of steps) {
  const started = Date.now();
  console.log(`\n▶ ${name}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  count?.();
  // A step that fails without a test report of its own (a runtime that could not be fetched, say) is one failure.
  if (result.status !== 0 && count === undefined) totals.failed += 1;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`✖ ${name} failed (exit ${result.status ?? result.signal}) after ${seconds} s`);
    summary();
    process.exit(1);
  }
  console.log(`✔ ${name} (${seconds} s)`);
}
summary();

function summary() {
  const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
  console.log(`\nnpm test: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
}

function countVitest(file) {
  if (!existsSync(file)) return;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += report.numPassedTests ?? 0;
  totals.failed += report.numFailedTests ?? 0;
  totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  rmSync(file);
}

function countPlaywright(file) {
  if (!existsSync(file)) return;
  const { stats } = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += (stats?.expected ?? 0) + (stats?.flaky ?? 0);
  totals.failed += stats?.unexpected ?? 0;
  totals.skipped += stats?.skipped ?? 0;
  rmSync(file);
}
