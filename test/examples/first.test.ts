/**
 * The README's first example (examples/first.mjs), run as the README says,
 * in plain JavaScript on this machine's Node (20, the floor); and the
 * README's code blocks for it and for examples/events.mjs are the files'
 * own code, so what the README shows is what the tests run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './support.js';

/** A file's code from its first import on, as the README quotes it (the header comment left out). */
const code = (file: string): string => {
  const text = readFileSync(file, 'utf8');
  return text.slice(text.indexOf("import { PoolManager } from 'poolfetch';")).trimEnd();
};
const readmeBlocks = [...readFileSync('README.md', 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => (m[1] ?? '').trimEnd());

describe('examples/first', () => {
  it('runs in plain JavaScript: status, headers, twelve through a pool of four, fetch, pools', () => {
    ensureBuilt();
    const lines = execFileSync(process.execPath, ['examples/first.mjs'], { encoding: 'utf8' }).trim().split('\n');
    expect(lines).toEqual(['200 application/json Ada Lovelace', Array(12).fill('200').join(' '), 'overcast', '2 13']);
  });

  it.each(['examples/first.mjs', 'examples/events.mjs'])('the README quotes %s as it is', (file) => {
    expect(readmeBlocks).toContain(code(file));
  });
});
