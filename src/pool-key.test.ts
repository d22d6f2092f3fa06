import { afterEach, describe, expect, it } from 'vitest';
import { PoolManager } from '../adapters/node/index.js';
import { LocationValueError, URLSchemeUnknown } from './errors.js';
import { describe as describeValue, parseUrl, poolKeyForHost, poolKeyForUrl } from './pool-key.js';

const keyOf = (url: string, tlsId?: string) => poolKeyForUrl(parseUrl(url), tlsId);

describe('poolKeyForUrl', () => {
  it('lower-cases scheme and host, so differently cased URLs share a key', () => {
    expect(keyOf('HTTP://LOCALHOST:8081/a').id).toBe(keyOf('http://localhost:8081/b').id);
    expect(keyOf('HTTPS://EXAMPLE.COM/').id).toBe(keyOf('https://example.com/').id);
    expect(keyOf('HTTP://Example.COM:80').origin).toBe('http://example.com:80');
  });

  it('fills in the default port', () => {
    expect(keyOf('http://h').id).toBe(keyOf('http://h:80/').id);
    expect(keyOf('https://h').id).toBe(keyOf('https://h:443/').id);
    expect(keyOf('http://h').port).toBe(80);
    expect(keyOf('https://h/').port).toBe(443);
    expect(keyOf('https://h').origin).toBe('https://h:443');
  });

  it('keeps scheme and port apart', () => {
    const ids = ['http://h/', 'https://h/', 'http://h:443/', 'https://h:80/', 'http://h:8080/'].map((u) => keyOf(u).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('ignores path, query, fragment and credentials', () => {
    expect(keyOf('http://u:p@h:8080/a/b?c=d#e').id).toBe('http://h:8080');
  });

  it('brackets IPv6 hosts and compares them canonically', () => {
    const key = keyOf('http://[::1]:8080/');
    expect(key.host).toBe('[::1]');
    expect(key.origin).toBe('http://[::1]:8080');
    expect(keyOf('http://[0:0:0:0:0:0:0:1]:8080/x').id).toBe(key.id);
    expect(keyOf('http://[::1]/').port).toBe(80);
  });

  it('treats a fully qualified name with a trailing dot as another host, as urllib3 does', () => {
    expect(keyOf('http://localhost.:8081/foo').id).not.toBe(keyOf('http://localhost:8081/bar').id);
  });

  it('adds the TLS identity to https keys only', () => {
    expect(keyOf('https://h/', 'tls#1').id).toBe('https://h:443 tls#1');
    expect(keyOf('https://h/', 'tls#1').origin).toBe('https://h:443');
    expect(keyOf('https://h/', 'tls#1').id).not.toBe(keyOf('https://h/').id);
    expect(keyOf('http://h/', 'tls#1').id).toBe('http://h:80');
  });
});

describe('poolKeyForHost', () => {
  it('gives the key poolKeyForUrl gives, whatever the case of host and scheme', () => {
    expect(poolKeyForHost('EXAMPLE.COM', undefined, 'HTTPS').id).toBe(keyOf('https://example.com/').id);
    expect(poolKeyForHost('example.com', 8080, 'http').id).toBe(keyOf('http://example.com:8080/').id);
    expect(poolKeyForHost('example.com', undefined, 'http').port).toBe(80);
  });

  it('takes an IPv6 address with or without brackets', () => {
    expect(poolKeyForHost('::1', 8080, 'http').id).toBe('http://[::1]:8080');
    expect(poolKeyForHost('[::1]', 8080, 'http').id).toBe('http://[::1]:8080');
    expect(poolKeyForHost('0:0:0:0:0:0:0:1', 8080, 'http').id).toBe('http://[::1]:8080');
  });

  it('canonicalises IPv4 forms as the URL parser does', () => {
    expect(poolKeyForHost('127.1', 80, 'http').id).toBe('http://127.0.0.1:80');
  });

  it('refuses an empty host, a host with a port or path, a bad port and a bad scheme', () => {
    expect(() => poolKeyForHost('', 80, 'http')).toThrow(LocationValueError);
    expect(() => poolKeyForHost('   ', 80, 'http')).toThrow(LocationValueError);
    expect(() => poolKeyForHost('h/path', 80, 'http')).toThrow(/Invalid host "h\/path"/);
    expect(() => poolKeyForHost('u@h', 80, 'http')).toThrow(LocationValueError);
    expect(() => poolKeyForHost('a:80', undefined, 'http')).toThrow(/Invalid host "a:80"/);
    expect(() => poolKeyForHost('h', 0, 'http')).toThrow(/port must be an integer from 1 to 65535, got 0/);
    expect(() => poolKeyForHost('h', 65536, 'http')).toThrow(TypeError);
    expect(() => poolKeyForHost('h', 80.5, 'http')).toThrow(TypeError);
    expect(() => poolKeyForHost('h', 80, 'ftp')).toThrow(URLSchemeUnknown);
    expect(() => poolKeyForHost('h', 80, 'ftp')).toThrow(/'ftp'/);
  });
});

describe('parseUrl', () => {
  it('parses each of the last 16 strings once (round-robin over origins), then forgets the oldest', () => {
    const urls = Array.from({ length: 16 }, (_, i) => `http://127.0.0.${i + 2}:8080/path?i=${i}`);
    const first = urls.map((url) => parseUrl(url));
    const again = urls.map((url) => parseUrl(url));
    again.forEach((url, i) => expect(url).toBe(first[i]));
    expect(first[3]?.href).toBe('http://127.0.0.5:8080/path?i=3');
    parseUrl('http://127.0.0.99/');
    // The oldest was pushed out: it is parsed anew (an equal URL, another object).
    const oldest = parseUrl(urls[0] as string);
    expect(oldest).not.toBe(first[0]);
    expect(oldest.href).toBe(first[0]?.href);
  });

  it.each(['nohost', '/relative', '', 'http://', 'http://@', 'http://:80/'])('refuses %j with LocationValueError naming it', (url) => {
    let thrown: unknown;
    try {
      parseUrl(url);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LocationValueError);
    expect((thrown as Error).message).toContain(JSON.stringify(url));
  });

  it.each(['ftp://x/', 'file:///etc/passwd', 'ws://h/', 'data:text/plain,x'])('refuses %j with URLSchemeUnknown', (url) => {
    expect(() => parseUrl(url, 'GET')).toThrow(URLSchemeUnknown);
    expect(() => parseUrl(url, 'GET')).toThrow(url.slice(0, url.indexOf(':')));
  });

  it('names the method and URL of a scheme it refuses', () => {
    expect(() => parseUrl('ftp://x/', 'PUT')).toThrow("Not supported URL scheme 'ftp' (PUT ftp://x/)");
  });

  it('refuses what is neither a string nor a URL with a TypeError', () => {
    expect(() => parseUrl(null as never)).toThrow(/url must be a string or URL, got null/);
    expect(() => parseUrl(42 as never)).toThrow(TypeError);
  });

  it('copies a URL object: a change the caller makes after the call changes nothing (issue 24)', () => {
    const url = new URL('http://h/x');
    const parsed = parseUrl(url);
    expect(parsed).not.toBe(url);
    expect(parsed.href).toBe('http://h/x');
    url.hostname = 'elsewhere';
    expect(parsed.href).toBe('http://h/x');
  });
});

describe('describe (values in messages)', () => {
  it('shows values briefly', () => {
    expect(describeValue('x')).toBe('"x"');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(10n)).toBe('10n');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue({ a: 1 })).toBe('an object ([object Object])');
  });
});

/** The manager's side of the keys, ported from urllib3's test_poolmanager.py. No request is sent. */
describe('PoolManager pool lookup', () => {
  let manager: PoolManager;
  afterEach(async () => {
    await manager.close();
  });

  it('same URL → same pool (test_same_url)', () => {
    manager = new PoolManager(1);
    const a = manager.connectionFromUrl('http://localhost:8081/foo');
    const b = manager.connectionFromUrl('http://localhost:8081/bar');
    expect(a).toBe(b);
    expect(manager.pools.size).toBe(1);
  });

  it('a trailing-dot FQDN gets its own pool (test_same_url)', () => {
    manager = new PoolManager(2);
    const a = manager.connectionFromUrl('http://localhost.:8081/foo');
    const b = manager.connectionFromUrl('http://localhost:8081/bar');
    expect(a).not.toBe(b);
  });

  it('many URLs → one pool per origin (test_many_urls)', () => {
    manager = new PoolManager(10);
    const urls = [
      'http://localhost:8081/foo',
      'http://www.google.com/mail',
      'http://localhost:8081/bar',
      'https://www.google.com/',
      'https://www.google.com/mail',
      'http://yahoo.com',
      'http://bing.com',
      'http://yahoo.com/',
    ];
    const pools = new Set(urls.map((url) => manager.connectionFromUrl(url)));
    expect(pools.size).toBe(5);
    expect(manager.pools.size).toBe(5);
  });

  it('case-insensitive keys for URLs and hosts (test_http(s)_connection_from_url/host_case_insensitive)', () => {
    manager = new PoolManager();
    // Each against the key spelled out, not against a second lookup that a wrong normaliser would get wrong the same way.
    const https = manager.connectionFromUrl('HTTPS://EXAMPLE.COM/');
    expect(https.key).toBe('https://example.com:443');
    expect(manager.connectionFromUrl('https://example.com/')).toBe(https);
    const http = manager.connectionFromUrl('HTTP://EXAMPLE.COM/');
    expect(http.key).toBe('http://example.com:80');
    expect(manager.connectionFromUrl('http://example.com/')).toBe(http);
    expect(manager.connectionFromHost('EXAMPLE.COM', undefined, 'HTTPS')).toBe(https);
    expect(manager.connectionFromHost('example.com', 443, 'https')).toBe(https);
    const http8080 = manager.connectionFromHost('EXAMPLE.COM', 8080, 'HTTP');
    expect(http8080.key).toBe('http://example.com:8080');
    expect(manager.connectionFromUrl('http://example.com:8080/')).toBe(http8080);
    expect(manager.pools.size).toBe(3);
    // Least recently used first: the https pool was looked up again after the http one.
    expect(manager.pools.keys()).toEqual(['http://example.com:80', 'https://example.com:443', 'http://example.com:8080']);
  });

  it('connectionFromHost defaults to http and the default port', () => {
    manager = new PoolManager();
    const pool = manager.connectionFromHost('example.com');
    expect(pool.origin).toBe('http://example.com:80');
    expect(manager.connectionFromUrl('http://example.com/')).toBe(pool);
  });

  it('IPv6: http://[::1]:PORT/ and connectionFromHost("::1", PORT) are one pool', () => {
    manager = new PoolManager();
    const pool = manager.connectionFromUrl('http://[::1]:8081/');
    expect(pool.origin).toBe('http://[::1]:8081');
    expect(manager.connectionFromHost('::1', 8081)).toBe(pool);
    expect(manager.connectionFromHost('[::1]', 8081)).toBe(pool);
    expect(manager.pools.size).toBe(1);
  });

  it('key fields: host, port and scheme each make another pool (test_http_pool_key_fields)', () => {
    manager = new PoolManager();
    const pools = [
      manager.connectionFromUrl('http://example.com/'),
      manager.connectionFromUrl('http://example.com:8000/'),
      manager.connectionFromUrl('http://other.example.com/'),
      manager.connectionFromUrl('https://example.com/'),
      manager.connectionFromUrl('https://example.com:4333/'),
    ];
    expect(new Set(pools).size).toBe(pools.length);
    expect(new Set(manager.pools.keys()).size).toBe(pools.length);
  });

  it('TLS options are part of the key (test_https_pool_key_fields, test_pools_keyed_with_from_host)', () => {
    manager = new PoolManager();
    const plain = manager.connectionFromHost('example.com', 443, 'https');
    const withCa = manager.connectionFromHost('example.com', 443, 'https', { tls: { ca: 'CA ONE' } });
    const otherCa = manager.connectionFromHost('example.com', 443, 'https', { tls: { ca: 'CA TWO' } });
    const noVerify = manager.connectionFromHost('example.com', 443, 'https', { tls: { rejectUnauthorized: false } });
    expect(new Set([plain, withCa, otherCa, noVerify]).size).toBe(4);
    // Equal options (even as other objects, or bytes for text) find the same pool again.
    expect(manager.connectionFromHost('example.com', 443, 'https', { tls: { ca: 'CA ONE' } })).toBe(withCa);
    expect(manager.connectionFromUrl('https://example.com/', { tls: { ca: new TextEncoder().encode('CA ONE') } })).toBe(withCa);
    expect(manager.connectionFromUrl('https://EXAMPLE.com:443/x')).toBe(plain);
    expect(withCa.origin).toBe(plain.origin);
    expect(withCa.key).not.toBe(plain.key);
    expect(withCa.options.tls).toEqual({ ca: 'CA ONE' });
    expect(plain.options.tls).toBeUndefined();
    expect(manager.pools.size).toBe(4);
  });

  it('TLS options do not split http pools', () => {
    manager = new PoolManager();
    const plain = manager.connectionFromHost('example.com', 80, 'http');
    expect(manager.connectionFromHost('example.com', 80, 'http', { tls: { ca: 'CA' } })).toBe(plain);
  });

  it("the manager's tls option keys its https pools apart from another manager's plain ones", async () => {
    manager = new PoolManager({ tls: { ca: 'CA ONE' } });
    const plainManager = new PoolManager();
    try {
      const custom = manager.connectionFromUrl('https://example.com/');
      const plain = plainManager.connectionFromUrl('https://example.com/');
      expect(custom.key).not.toBe(plain.key);
      expect(custom.options.tls).toEqual({ ca: 'CA ONE' });
      // Within the custom manager, the manager's own settings and equal overrides are one pool.
      expect(manager.connectionFromUrl('https://example.com/', { tls: { ca: 'CA ONE' } })).toBe(custom);
      expect(manager.connectionFromUrl('https://example.com/', { tls: {} })).not.toBe(custom);
      expect(manager.connectionFromUrl('http://example.com/').key).toBe('http://example.com:80');
    } finally {
      await plainManager.close();
    }
  });

  it('no host → LocationValueError (test_nohost)', () => {
    manager = new PoolManager(5);
    expect(() => manager.connectionFromUrl('http://@')).toThrow(LocationValueError);
    expect(() => manager.connectionFromUrl('nohost')).toThrow(LocationValueError);
    expect(() => manager.connectionFromHost('')).toThrow(LocationValueError);
    // urllib3 takes None here too; in TypeScript it is a type error, so a TypeError.
    expect(() => manager.connectionFromUrl(null as never)).toThrow(TypeError);
    expect(manager.pools.size).toBe(0);
  });

  it('the pool knows its origin and key', () => {
    manager = new PoolManager();
    const pool = manager.connectionFromUrl('HTTPS://Example.com/x', { tls: { ca: 'X' } });
    expect(pool.origin).toBe('https://example.com:443');
    expect(pool.key).toMatch(/^https:\/\/example\.com:443 tls#\d+$/);
    expect(manager.pools.has(pool.key)).toBe(true);
    expect(pool.poolKey).toMatchObject({ scheme: 'https', host: 'example.com', port: 443 });
  });
});
