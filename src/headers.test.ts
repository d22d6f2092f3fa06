import { describe, expect, it } from 'vitest';
import { base64, checkHeader, mergeHeaders, normalizeHeaders } from './headers.js';
import { makeHeaders } from './make-headers.js';

describe('normalizeHeaders', () => {
  it.each([
    ['a CR', 'value\rmore'],
    ['a LF', 'value\nmore'],
    ['a CRLF in the middle', 'value\r\nx-injected: 1'],
    ['a trailing CRLF', 'value\r\n'],
    ['a trailing LF', 'value\n'],
    ['a leading CRLF', '\r\nvalue'],
    ['a NUL', 'val\0ue'],
  ])('rejects a value with %s, naming the header', (_what, value) => {
    for (const init of [{ 'x-test': value }, [['x-test', value]]]) {
      let thrown: unknown;
      try {
        normalizeHeaders(init, 'headers');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toContain('"x-test"');
      expect((thrown as Error).message).toContain('CR, LF or NUL');
    }
  });

  it('rejects a bad value even though Headers would have stripped it', () => {
    // Headers trims the trailing CRLF silently: the check must come first.
    expect(new Headers({ 'x-test': 'value\r\n' }).get('x-test')).toBe('value');
    expect(() => normalizeHeaders({ 'x-test': 'value\r\n' }, 'headers')).toThrow(TypeError);
  });

  it.each(['x test', 'x:test', '', 'x\r\ny', 'ü'])('rejects the header name %j', (name) => {
    expect(() => normalizeHeaders({ [name]: 'v' }, 'headers')).toThrow(/invalid header name/);
  });

  it('rejects values that are not strings or numbers, and inits that are not objects', () => {
    expect(() => normalizeHeaders({ 'x-a': {} }, 'headers')).toThrow(/"x-a" must have a string value/);
    expect(() => normalizeHeaders({ 'x-a': null }, 'headers')).toThrow(TypeError);
    expect(() => normalizeHeaders('x-a: b', 'headers')).toThrow(/headers must be a Headers object.*got "x-a: b"/);
    expect(() => normalizeHeaders([['x-a']], 'headers')).toThrow(/\[name, value\] pair/);
  });

  it('accepts records, pairs and Headers, keeping repeated names', () => {
    expect(normalizeHeaders({ 'X-A': 'b', 'x-n': 1, 'x-skip': undefined }, 'h').get('x-a')).toBe('b');
    expect(normalizeHeaders({ 'x-n': 1 }, 'h').get('x-n')).toBe('1');
    expect(normalizeHeaders({ 'x-skip': undefined }, 'h').has('x-skip')).toBe(false);
    const pairs = normalizeHeaders([['accept', 'a'], ['accept', 'b']], 'h');
    expect(pairs.get('accept')).toBe('a, b');
    expect(normalizeHeaders(new Headers({ 'x-h': 'v' }), 'h').get('x-h')).toBe('v');
    expect([...normalizeHeaders(undefined, 'h')]).toEqual([]);
    expect(normalizeHeaders({ 'x-tab': 'a\tb' }, 'h').get('x-tab')).toBe('a\tb');
  });

  it('reads any iterable of pairs (a Map, another Headers class) as pairs, not as an empty record', () => {
    expect(normalizeHeaders(new Map([['x-m', 'v']]), 'h').get('x-m')).toBe('v');
    const foreign = { *[Symbol.iterator]() { yield ['x-f', 'w']; } };
    expect(normalizeHeaders(foreign, 'h').get('x-f')).toBe('w');
    expect(() => normalizeHeaders(new Map([['x-bad', 'a\r\nb']]), 'h')).toThrow(TypeError);
  });
});

describe('checkHeader', () => {
  it('names where the bad header came from', () => {
    expect(() => checkHeader('x-a', 'b\nc', 'fetch headers')).toThrow(/^fetch headers: header "x-a"/);
    expect(() => checkHeader('x-a', 'fine', 'headers')).not.toThrow();
  });
});

describe('mergeHeaders', () => {
  it('lets a name set in the override replace every value of it in the base', () => {
    const base = new Headers([['accept', 'a'], ['accept', 'b'], ['x-keep', 'k']]);
    const merged = mergeHeaders(base, new Headers([['accept', 'c'], ['accept', 'd']]));
    expect(merged.get('accept')).toBe('c, d');
    expect(merged.get('x-keep')).toBe('k');
    expect(base.get('accept')).toBe('a, b');
  });
});

describe('makeHeaders', () => {
  it('builds urllib3-style headers with lower-case names', () => {
    expect(makeHeaders({ proxyBasicAuth: 'u:p' })).toEqual({ 'proxy-authorization': 'Basic dTpw' });
    expect(makeHeaders({ basicAuth: 'user:pass' })).toEqual({ authorization: 'Basic dXNlcjpwYXNz' });
    expect(makeHeaders({ keepAlive: true })).toEqual({ connection: 'keep-alive' });
    expect(makeHeaders({ userAgent: 'poolfetch/1' })).toEqual({ 'user-agent': 'poolfetch/1' });
    expect(makeHeaders({ disableCache: true })).toEqual({ 'cache-control': 'no-cache' });
    expect(makeHeaders({ acceptEncoding: true })).toEqual({ 'accept-encoding': 'gzip, deflate, br' });
    expect(makeHeaders({ acceptEncoding: 'gzip' })).toEqual({ 'accept-encoding': 'gzip' });
    expect(makeHeaders({ acceptEncoding: ['gzip', 'br'] })).toEqual({ 'accept-encoding': 'gzip,br' });
    expect(makeHeaders({ acceptEncoding: false, keepAlive: false, disableCache: false })).toEqual({});
    expect(makeHeaders()).toEqual({});
  });

  it('combines options into one object', () => {
    const headers = makeHeaders({ keepAlive: true, userAgent: 'ua', basicAuth: 'a:b' });
    expect(headers).toEqual({ connection: 'keep-alive', 'user-agent': 'ua', authorization: 'Basic YTpi' });
    for (const name of Object.keys(headers)) expect(name).toBe(name.toLowerCase());
  });

  it('encodes credentials as UTF-8 before base64', () => {
    expect(base64('ü:p')).toBe(Buffer.from('ü:p', 'utf8').toString('base64'));
    expect(makeHeaders({ basicAuth: 'jörg:pässword' }).authorization).toBe(
      `Basic ${Buffer.from('jörg:pässword', 'utf8').toString('base64')}`,
    );
  });

  it('rejects a user agent with CR/LF and unknown options', () => {
    expect(() => makeHeaders({ userAgent: 'ua\r\nx-evil: 1' })).toThrow(TypeError);
    expect(() => makeHeaders({ userAgent: 'ua\r\nx-evil: 1' })).toThrow(/user-agent/);
    expect(() => makeHeaders({ keep_alive: true } as never)).toThrow(/Unknown makeHeaders option "keep_alive"/);
    expect(() => makeHeaders(null as never)).toThrow(/got null/);
  });
});
