/**
 * One client of the waiting shape under the V8 CPU profiler (the one
 * `node --cpu-prof` drives, started here through `node:inspector` so the
 * profile covers the measured requests only, not start-up and warm-up).
 * Writes the `.cpuprofile` (open it in Chrome DevTools) and tells the
 * parent where it is.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadEntries, type Built } from './build.js';
import { makeSpecs, pickSpecs } from './clients.js';
import type { ProfileChildConfig, ProfileChildResult } from './profile.js';
import { at, load } from './stats.js';

const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
const config = JSON.parse(process.argv[2] ?? '{}') as ProfileChildConfig & { built: Built };
const spec = at(pickSpecs(makeSpecs(await loadEntries(config.built)), [config.client]), 0);
const client = spec.make(config.origin, config.connections);
const call = (): Promise<unknown> => client.call(config.path);
await load(call, config.warmup, config.concurrency);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const before = process.cpuUsage();
await load(call, config.requests, config.concurrency);
const used = process.cpuUsage(before);
const { profile } = await session.post('Profiler.stop');
session.disconnect();
await client.close();

writeFileSync(config.out, JSON.stringify(profile));
const result: ProfileChildResult = { out: config.out, cpuMicros: (used.user + used.system) / config.requests, warnings };
process.send?.(result, () => process.disconnect());
