#!/usr/bin/env node
/**
 * Installs, with apt-get, the Debian packages the e2e tests drive for real:
 * Chromium (Playwright cannot download its own browser here), tinyproxy
 * (a real forward proxy) and redis-server (the fleet budget's Redis
 * coordinator; the tests start their own on a free loopback port). Does nothing when they are present; as non-root it
 * only says what is missing, and the tests that need them say so too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = [
  { pkg: 'chromium', present: () => Boolean(process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH)) || existsSync('/usr/bin/chromium') },
  { pkg: 'tinyproxy', present: () => existsSync('/usr/bin/tinyproxy') || existsSync('/usr/sbin/tinyproxy') },
  { pkg: 'redis-server', present: () => existsSync('/usr/bin/redis-server') },
];

const missing = wanted.filter((w) => !w.present()).map((w) => w.pkg);
if (missing.length === 0) {
  console.log(`system packages present: ${wanted.map((w) => w.pkg).join(', ')}`);
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  console.error(`missing system packages: ${missing.join(', ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.log(`installing ${missing.join(', ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
process.exit(install.status ?? 1);
