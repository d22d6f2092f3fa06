/**
 * Bad request options fail at once with a TypeError that names the option
 * and the value, before anything is sent, on both adapters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/servers.js';
import { adapters, routesServer } from './support.js';

let server: TestServer;
beforeAll(async () => {
  server = await routesServer();
});
afterAll(async () => {
  await server.close();
});

describe.each(adapters)('bad input ($name adapter)', (adapter) => {
  it.each([
    [{ retries: { totl: 3 } }, /Unknown retries option "totl"/],
    [{ retries: { backoffFactor: -1 } }, /retries\.backoffFactor .* got -1/],
    [{ retries: 'three' }, /retries must be a number, false or an object of retry options, got "three"/],
    [{ timeout: Number.NaN }, /timeout must be a positive number of milliseconds, got NaN/],
    [{ timeout: { connect: -1 } }, /timeout\.connect .* got -1/],
    [{ redirect: -1 }, /redirect must be a boolean or a non-negative integer, got -1/],
    [{ preloadContent: 'no' }, /preloadContent must be a boolean, got "no"/],
    [{ signal: 'stop' }, /signal must be an AbortSignal, got "stop"/],
    [{ redirects: 3 }, /Unknown request option "redirects"/],
  ])('request() refuses %j, sending nothing', async (options, message) => {
    await using http = adapter.make();
    const before = server.requests.length;
    const error = await http.request('GET', server.url('/echo'), options as object).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    expect(server.requests.length).toBe(before);
  });

  it.each([
    [{ retries: { statusForcelist: ['500'] } }, /retries\.statusForcelist .* got "500"/],
    [{ retries: { raiseOnRedirect: 1 } }, /retries\.raiseOnRedirect must be a boolean, got 1/],
    [{ timeout: -5 }, /timeout .* got -5/],
    [{ clock: { sleep: 5 } }, /clock\.sleep must be a function, got 5/],
    [{ clock: { now: Date.now, tick: 1 } }, /Unknown clock option "tick"/],
  ])('the manager refuses %j', (options, message) => {
    expect(() => adapter.make(options as object)).toThrow(TypeError);
    expect(() => adapter.make(options as object)).toThrow(message);
  });
});
