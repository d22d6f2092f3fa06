import { describe, expect, it } from 'vitest';
import { PoolManager } from '../adapters/node/index.js';
import { nodeDefaults } from '../adapters/node/pool-manager.js';
import { fetchDefaults } from '../adapters/fetch/pool-manager.js';
import { NotSupportedError } from './errors.js';
import { defaults, normalizeOptions } from './options.js';
import { tlsFingerprint } from '../adapters/node/tls-options.js';

/** The Node adapter's checks, which include `tls`. */
const node = nodeDefaults;

/** Expects a TypeError whose message names the option and shows the value. */
function rejects(input: unknown, option: string, shown: string): void {
  let thrown: unknown;
  try {
    normalizeOptions(input as never, node);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${option} = ${shown}`).toBeInstanceOf(TypeError);
  const message = (thrown as Error).message;
  expect(message).toContain(option);
  expect(message).toContain(shown);
}

describe('normalizeOptions', () => {
  it('fills in the defaults', () => {
    const o = normalizeOptions(undefined, node);
    expect(o.numPools).toBe(defaults.numPools);
    expect(o.numPools).toBe(10);
    expect(o.maxSize).toBe(10);
    expect(o.maxTotal).toBeUndefined();
    expect(o.poolTimeout).toBeUndefined();
    expect(o.redirect).toBe(10);
    expect(o.tls).toBeUndefined();
    expect(o.keepAliveTimeout).toBe(4000);
    expect([...o.headers]).toEqual([]);
    expect(normalizeOptions(undefined, fetchDefaults).maxSize).toBe(6);
    expect(o.retry.total).toBe(3);
    expect(o.timeout).toEqual({ connect: undefined, read: undefined, total: undefined });
    expect(o.fetch).toBeUndefined();
    // Every field of ResolvedOptions, each option under its own name but `retries` (→ retry), nothing else.
    expect(Object.keys(o)).toEqual([
      'numPools', 'maxSize', 'maxTotal', 'poolTimeout', 'maxResponseSize', 'budget', 'headers', 'retry', 'timeout',
      'redirect', 'tls', 'keepAliveTimeout', 'fetch', 'clock', 'redirectFollower', 'observer',
    ]);
  });

  it('takes a number as numPools, as urllib3 does', () => {
    expect(normalizeOptions(3, node).numPools).toBe(3);
    expect(normalizeOptions({ numPools: 3 }, node).numPools).toBe(3);
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    ['10', '"10"'],
    [1.5, '1.5'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [null, 'null'],
    [true, 'true'],
  ])('rejects numPools %s with a TypeError naming it', (value, shown) => {
    rejects({ numPools: value }, 'numPools', shown);
  });

  it.each([0, -1, Number.NaN])('rejects new PoolManager(%s) as a bad numPools', (value) => {
    expect(() => new PoolManager(value)).toThrow(TypeError);
    expect(() => new PoolManager(value)).toThrow(/numPools/);
    expect(() => new PoolManager(value)).toThrow(String(value));
  });

  it('rejects a string or an array in place of the options', () => {
    expect(() => new PoolManager('10' as never)).toThrow(/PoolManager options must be a number \(numPools\) or an object, got "10"/);
    expect(() => new PoolManager([10] as never)).toThrow(TypeError);
  });

  it('rejects an unknown option, naming it and its value', () => {
    rejects({ numPool: 10 }, 'numPool', '10');
    rejects({ max_size: 'x' }, 'max_size', '"x"');
    expect(() => new PoolManager({ retry: 3 } as never)).toThrow(/Unknown PoolManager option "retry" \(value 3\)/);
  });

  it.each([
    [{ maxSize: 0 }, 'maxSize', '0'],
    [{ maxSize: '2' }, 'maxSize', '"2"'],
    [{ maxTotal: 0 }, 'maxTotal', '0'],
    [{ maxTotal: -5 }, 'maxTotal', '-5'],
    [{ poolTimeout: -1 }, 'poolTimeout', '-1'],
    [{ poolTimeout: Number.NaN }, 'poolTimeout', 'NaN'],
    [{ keepAliveTimeout: '1s' }, 'keepAliveTimeout', '"1s"'],
    [{ redirect: 'yes' }, 'redirect', '"yes"'],
    [{ redirect: -1 }, 'redirect', '-1'],
    [{ timeout: 0 }, 'timeout', '0'],
    [{ timeout: { connect: -1 } }, 'timeout.connect', '-1'],
    [{ retries: -1 }, 'retries', '-1'],
    [{ retries: 'many' }, 'retries', '"many"'],
    [{ tls: 'strict' }, 'tls', '"strict"'],
    [{ tls: { rejectUnauthorized: 'no' } }, 'tls.rejectUnauthorized', '"no"'],
    [{ tls: { servername: 1 } }, 'tls.servername', '1'],
    [{ fetch: 'fetch' }, 'fetch', '"fetch"'],
    [{ headers: 'x-a: b' }, 'headers', '"x-a: b"'],
  ])('rejects %j with a TypeError naming %s', (input, option, shown) => {
    rejects(input, option, shown);
  });

  it('the fetch adapter refuses any tls option, the core without an adapter check too', () => {
    expect(() => normalizeOptions({ tls: { ca: 'PEM' } }, fetchDefaults)).toThrow(NotSupportedError);
    expect(() => normalizeOptions({ tls: { ca: 'PEM' } }, fetchDefaults)).toThrow(/tls option needs the Node entry/);
    expect(normalizeOptions({}, fetchDefaults).tls).toBeUndefined();
    expect(() => normalizeOptions({ tls: {} }, { maxSize: 1 })).toThrow(/tls must be unset/);
  });

  it('rejects an unknown tls option', () => {
    expect(() => normalizeOptions({ tls: { verify: false } as never }, node)).toThrow(/Unknown tls option "verify"/);
  });

  it('rejects a header value with CR or LF in the manager headers', () => {
    expect(() => normalizeOptions({ headers: { 'x-a': 'b\r\nx-evil: 1' } }, node)).toThrow(TypeError);
    expect(() => normalizeOptions({ headers: { 'x-a': 'b\r\nx-evil: 1' } }, node)).toThrow(/x-a/);
  });

  it('accepts every valid option', () => {
    const o = normalizeOptions(
      {
        numPools: 2,
        maxSize: 3,
        maxTotal: 4,
        poolTimeout: 0,
        headers: { 'user-agent': 'poolfetch-test' },
        retries: false,
        timeout: { connect: 1000, read: 2000 },
        redirect: false,
        tls: { ca: 'PEM', rejectUnauthorized: true, servername: 'localhost' },
        keepAliveTimeout: 10,
      },
      node,
    );
    expect(o).toMatchObject({ numPools: 2, maxSize: 3, maxTotal: 4, poolTimeout: 0, redirect: 0, keepAliveTimeout: 10 });
    expect(o.headers.get('user-agent')).toBe('poolfetch-test');
    expect(o.retry.enabled).toBe(false);
    expect(o.timeout).toEqual({ connect: 1000, read: 2000, total: undefined });
    expect(o.tls?.servername).toBe('localhost');
  });
});

describe('tlsFingerprint', () => {
  it('is empty without TLS options, and spells out each field set, bytes as text', () => {
    expect(tlsFingerprint(undefined)).toBe('');
    expect(tlsFingerprint({})).toBe('[]');
    expect(tlsFingerprint({ ca: 'A' })).toBe('[["ca","A"]]');
    expect(tlsFingerprint({ ca: new TextEncoder().encode('A') })).toBe('[["ca","A"]]');
    expect(tlsFingerprint({ ca: ['A', 'B'] })).toBe('[["ca","A\\nB"]]');
    expect(tlsFingerprint({ ca: 'A', rejectUnauthorized: false })).toBe('[["ca","A"],["rejectUnauthorized","false"]]');
    expect(tlsFingerprint({ servername: 'localhost', ca: 'A' })).toBe('[["ca","A"],["servername","localhost"]]');
    expect(tlsFingerprint({ key: 'K', cert: 'C' })).toBe('[["cert","C"],["key","K"]]');
  });
});
