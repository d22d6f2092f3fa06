import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import * as errors from './errors.js';
import {
  ConnectTimeoutError,
  EmptyPoolError,
  HostChangedError,
  isPoolfetchError,
  LocationValueError,
  MaxRetryError,
  NewConnectionError,
  PoolfetchError,
  ProtocolError,
  ProxyError,
  ProxySchemeUnknown,
  ReadTimeoutError,
  URLSchemeUnknown,
} from './errors.js';

type ErrorsModule = typeof errors;

/** One instance of every class, made with a given copy of the module. */
function everyError(m: ErrorsModule): Array<[string, string, errors.PoolfetchError]> {
  const where = { method: 'GET', url: 'http://127.0.0.1:9/x' };
  return [
    ['PoolfetchError', 'POOLFETCH_ERROR', new m.PoolfetchError('base')],
    ['LocationValueError', 'POOLFETCH_LOCATION_VALUE', new m.LocationValueError('no host')],
    ['URLSchemeUnknown', 'POOLFETCH_URL_SCHEME_UNKNOWN', new m.URLSchemeUnknown('ftp')],
    ['ProxySchemeUnknown', 'POOLFETCH_PROXY_SCHEME_UNKNOWN', new m.ProxySchemeUnknown('socks5')],
    ['HostChangedError', 'POOLFETCH_HOST_CHANGED', new m.HostChangedError('http://127.0.0.2:80', where)],
    ['EmptyPoolError', 'POOLFETCH_EMPTY_POOL', new m.EmptyPoolError('empty')],
    ['ClosedPoolError', 'POOLFETCH_CLOSED_POOL', new m.ClosedPoolError('closed')],
    ['MaxRetryError', 'POOLFETCH_MAX_RETRY', new m.MaxRetryError(new Error('boom'), where)],
    ['ConnectTimeoutError', 'POOLFETCH_CONNECT_TIMEOUT', new m.ConnectTimeoutError('slow connect')],
    ['ReadTimeoutError', 'POOLFETCH_READ_TIMEOUT', new m.ReadTimeoutError('slow read')],
    ['NewConnectionError', 'POOLFETCH_NEW_CONNECTION', new m.NewConnectionError('refused')],
    ['ProtocolError', 'POOLFETCH_PROTOCOL', new m.ProtocolError('reset')],
    ['ProxyError', 'POOLFETCH_PROXY', new m.ProxyError('407', { status: 407 })],
    ['NotSupportedError', 'POOLFETCH_NOT_SUPPORTED', new m.NotSupportedError('no proxy here')],
    ['ResponseTooLargeError', 'POOLFETCH_RESPONSE_TOO_LARGE', new m.ResponseTooLargeError(1024, where)],
    ['BudgetUnavailableError', 'POOLFETCH_BUDGET_UNAVAILABLE', new m.BudgetUnavailableError('coordinator down')],
  ];
}

describe('error classes', () => {
  it('have the class name as a literal name, a stable code, and extend PoolfetchError and Error', () => {
    const seenCodes = new Set<string>();
    for (const [name, code, error] of everyError(errors)) {
      expect(error.name).toBe(name);
      expect(error.constructor.name).toBe(name);
      expect(error.code).toBe(code);
      expect(seenCodes.has(code)).toBe(false);
      seenCodes.add(code);
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(PoolfetchError);
      expect(isPoolfetchError(error)).toBe(true);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
      expect(error.stack).toContain(name);
    }
  });

  it('keep subclasses apart under instanceof', () => {
    const refused = new NewConnectionError('refused');
    expect(refused).toBeInstanceOf(NewConnectionError);
    expect(refused).not.toBeInstanceOf(ProtocolError);
    expect(refused).not.toBeInstanceOf(MaxRetryError);
    expect(new PoolfetchError('base')).not.toBeInstanceOf(LocationValueError);
    expect(new Error('plain')).not.toBeInstanceOf(PoolfetchError);
    expect(isPoolfetchError(new Error('plain'))).toBe(false);
    expect(isPoolfetchError(null)).toBe(false);
    expect(isPoolfetchError('POOLFETCH_ERROR')).toBe(false);
    expect(isPoolfetchError({ code: 'POOLFETCH_ERROR', name: 'PoolfetchError' })).toBe(false);
  });

  it('keep the cause, the method and the url', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const error = new NewConnectionError('Failed to establish a new connection', { cause, method: 'POST', url: 'http://127.0.0.1:9/x' });
    expect(error.cause).toBe(cause);
    expect(error.method).toBe('POST');
    expect(error.url).toBe('http://127.0.0.1:9/x');
    expect('cause' in new EmptyPoolError('no cause')).toBe(false);
  });

  it('MaxRetryError names the request and the last error, which is its reason and cause', () => {
    const reason = new NewConnectionError('connection refused');
    const error = new MaxRetryError(reason, { method: 'GET', url: 'http://127.0.0.1:9/x' });
    expect(error.reason).toBe(reason);
    expect(error.cause).toBe(reason);
    expect(error.message).toContain('GET http://127.0.0.1:9/x');
    expect(error.message).toContain('NewConnectionError: connection refused');
  });

  it('carry their specific fields', () => {
    expect(new URLSchemeUnknown('ftp', { url: 'ftp://x/' }).scheme).toBe('ftp');
    expect(new URLSchemeUnknown('ftp', { url: 'ftp://x/' }).message).toContain("'ftp'");
    expect(new ProxySchemeUnknown('socks5').scheme).toBe('socks5');
    const changed = new HostChangedError('http://127.0.0.2:80', { method: 'GET', url: 'http://127.0.0.3/' });
    expect(changed.origin).toBe('http://127.0.0.2:80');
    expect(changed.message).toContain('http://127.0.0.3/');
    expect(changed.message).toContain('http://127.0.0.2:80');
    expect(new ProxyError('refused', { status: 407 }).status).toBe(407);
    expect(new ConnectTimeoutError('slow', { timeout: 5 }).timeout).toBe(5);
    expect(new ReadTimeoutError('slow', { timeout: 7 }).timeout).toBe(7);
  });
});

describe('the cross-copy brand', () => {
  it('makes instanceof and isPoolfetchError work across two copies of the module', async () => {
    vi.resetModules();
    const other = (await import('./errors.js')) as ErrorsModule;
    // A real second copy: its classes are different objects from ours.
    expect(other.PoolfetchError).not.toBe(PoolfetchError);
    expect(other.NewConnectionError).not.toBe(NewConnectionError);

    const theirs = everyError(other);
    const ours = everyError(errors);
    for (const [index, [name, , error]] of theirs.entries()) {
      const ourClass = errors[name as keyof ErrorsModule] as unknown as abstract new (...args: never[]) => unknown;
      expect(error instanceof ourClass, `${name} from the other copy instanceof ours`).toBe(true);
      expect(error instanceof PoolfetchError).toBe(true);
      expect(isPoolfetchError(error)).toBe(true);
      const ourError = ours[index]?.[2];
      const theirClass = other[name as keyof ErrorsModule] as unknown as abstract new (...args: never[]) => unknown;
      expect(ourError instanceof theirClass, `${name} from our copy instanceof theirs`).toBe(true);
      expect(other.isPoolfetchError(ourError)).toBe(true);
    }
    // The brand keeps the lineage: a NewConnectionError is not a ProtocolError in any copy.
    expect(new other.NewConnectionError('x') instanceof ProtocolError).toBe(false);
    expect(new other.PoolfetchError('x') instanceof NewConnectionError).toBe(false);
    expect(new NewConnectionError('x') instanceof other.MaxRetryError).toBe(false);
  });

  // dist/ exists once `npm run build` has run; `npm test` builds before it runs vitest.
  const built = fileURLToPath(new URL('../dist/adapters/node/index.js', import.meta.url));
  it.skipIf(!existsSync(built))('works between the built package and the source, as between a bundle and node_modules', async () => {
    const dist = (await import(built)) as ErrorsModule;
    expect(dist.PoolfetchError).not.toBe(PoolfetchError);
    const fromDist = new dist.MaxRetryError(new dist.NewConnectionError('refused'), { url: 'http://127.0.0.1:9/' });
    expect(fromDist).toBeInstanceOf(MaxRetryError);
    expect(fromDist).toBeInstanceOf(PoolfetchError);
    expect(fromDist.reason).toBeInstanceOf(NewConnectionError);
    expect(isPoolfetchError(fromDist)).toBe(true);
    expect(dist.isPoolfetchError(new LocationValueError('x'))).toBe(true);
    expect(new LocationValueError('x')).toBeInstanceOf(dist.LocationValueError);
    expect(new LocationValueError('x')).not.toBeInstanceOf(dist.URLSchemeUnknown);
  });

  it('lives under a Symbol.for key, so a copy in another bundle finds it too', () => {
    const error = new EmptyPoolError('x');
    const brand = Object.getOwnPropertySymbols(error).map((s) => Symbol.keyFor(s));
    expect(brand).toEqual(['poolfetch.error.lineage']);
    // Not enumerable: it does not show up in JSON or spreads.
    expect(Object.keys(error)).not.toContain('poolfetch.error.lineage');
  });

  it('recognises an error of a subclass a user defines', () => {
    class MyTimeout extends ReadTimeoutError {}
    const error = new MyTimeout('slow');
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect(error).toBeInstanceOf(PoolfetchError);
    expect(error).toBeInstanceOf(MyTimeout);
    expect(error).not.toBeInstanceOf(ConnectTimeoutError);
    expect(error.code).toBe('POOLFETCH_READ_TIMEOUT');
    // A brand and a name of its own leave the code its poolfetch parent's.
    class Branded extends ReadTimeoutError {
      static override readonly kind: string = 'BrandedTimeout';
      override readonly name = 'BrandedTimeout' as 'ReadTimeoutError';
    }
    const branded = new Branded('slow');
    expect([branded.name, branded.code]).toEqual(['BrandedTimeout', 'POOLFETCH_READ_TIMEOUT']);
    expect(branded).toBeInstanceOf(ReadTimeoutError);
  });
});

describe('the public entries', () => {
  it('export every class', async () => {
    const node = await import('../adapters/node/index.js');
    for (const name of [
      'PoolfetchError', 'LocationValueError', 'URLSchemeUnknown', 'ProxySchemeUnknown', 'HostChangedError',
      'EmptyPoolError', 'ClosedPoolError', 'MaxRetryError', 'ConnectTimeoutError', 'ReadTimeoutError',
      'NewConnectionError', 'ProtocolError', 'ProxyError', 'NotSupportedError', 'isPoolfetchError',
    ]) {
      expect(typeof (node as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
