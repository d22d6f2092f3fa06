/** What a redirect does to the next request: the pure rules, without a server. */
import { describe, expect, it } from 'vitest';
import { LocationValueError, URLSchemeUnknown } from './errors.js';
import { redirectHeaders, redirectMethod, redirectTarget } from './redirects.js';

describe('redirectMethod', () => {
  it.each([
    [301, 'POST', 'GET', true],
    [302, 'PUT', 'GET', true],
    [303, 'DELETE', 'GET', true],
    [303, 'HEAD', 'HEAD', false],
    [301, 'GET', 'GET', false],
    [307, 'POST', 'POST', false],
    [308, 'PATCH', 'PATCH', false],
  ])('request(): %i after %s → %s (drop body: %s)', (status, method, next, drop) => {
    expect(redirectMethod(status, method)).toEqual({ method: next, dropBody: drop });
  });

  it.each([
    [301, 'POST', 'GET', true],
    [302, 'PUT', 'PUT', false],
    [301, 'DELETE', 'DELETE', false],
    [303, 'PUT', 'GET', true],
  ])('fetch rules: %i after %s → %s', (status, method, next, drop) => {
    expect(redirectMethod(status, method, 'fetch')).toEqual({ method: next, dropBody: drop });
  });
});

describe('redirectTarget', () => {
  const from = new URL('http://127.0.0.1:8080/a/b?q=1');

  it('resolves relative locations against the URL that answered', () => {
    expect(redirectTarget('c', from, 'GET').href).toBe('http://127.0.0.1:8080/a/c');
    expect(redirectTarget('../d?x', from, 'GET').href).toBe('http://127.0.0.1:8080/d?x');
    expect(redirectTarget('//127.0.0.2/e', from, 'GET').href).toBe('http://127.0.0.2/e');
    expect(redirectTarget('https://127.0.0.1/f', from, 'GET').href).toBe('https://127.0.0.1/f');
  });

  it('refuses a Location that is not a URL, naming it, and one that is not http(s)', () => {
    expect(() => redirectTarget('http://[::1', from, 'GET')).toThrow(LocationValueError);
    expect(() => redirectTarget('http://[::1', from, 'GET')).toThrow('Invalid Location header "http://[::1" in the redirect from http://127.0.0.1:8080/a/b?q=1');
    expect(() => redirectTarget('ftp://127.0.0.1/x', from, 'GET')).toThrow(URLSchemeUnknown);
    expect(() => redirectTarget('javascript:alert(1)', from, 'GET')).toThrow(URLSchemeUnknown);
    expect(() => redirectTarget('file:///etc/passwd', from, 'GET')).toThrow(URLSchemeUnknown);
  });
});

describe('redirectHeaders', () => {
  const headers = new Headers({
    authorization: 'Bearer t', cookie: 'a=1', 'proxy-authorization': 'Basic x', 'x-custom': 'kept',
    'content-type': 'application/json', 'content-length': '2', 'content-encoding': 'gzip',
  });
  const a = new URL('https://127.0.0.1:8443/');

  it('keeps everything on a same-origin hop that keeps the body', () => {
    expect(redirectHeaders(headers, a, new URL('https://127.0.0.1:8443/next'), false)).toBe(headers);
  });

  it.each([
    ['another host', 'https://127.0.0.2:8443/'],
    ['another port', 'https://127.0.0.1:9443/'],
    ['https → http on one host', 'http://127.0.0.1:8443/'],
  ])('strips credentials on %s, keeping the rest', (_what, to) => {
    const next = redirectHeaders(headers, a, new URL(to), false);
    for (const name of ['authorization', 'cookie', 'proxy-authorization']) expect(next.has(name)).toBe(false);
    expect(next.get('x-custom')).toBe('kept');
    expect(next.get('content-type')).toBe('application/json');
    expect(headers.has('authorization')).toBe(true);
  });

  it('drops the body headers with the body', () => {
    const next = redirectHeaders(headers, a, new URL('https://127.0.0.1:8443/x'), true);
    for (const name of ['content-type', 'content-length', 'content-encoding']) expect(next.has(name)).toBe(false);
    expect(next.get('authorization')).toBe('Bearer t');
  });
});
