/** The NO_PROXY rules, as a table: a pure function, no sockets. */
import { describe, expect, it } from 'vitest';
import { noProxyMatcher, shouldBypassProxy } from '../../adapters/node/no-proxy.js';

// [NO_PROXY value, URL, goes direct?]
const table: Array<[string, string, boolean]> = [
  // Unset or blank: everything goes through the proxy.
  ['', 'http://example.com/', false],
  [' , ,', 'http://example.com/', false],
  // `*` alone: nothing does.
  ['*', 'http://example.com/', true],
  ['*', 'https://10.1.2.3:8443/', true],
  ['localhost, *', 'http://example.com/', true],
  // A name matches itself and every name under it, whatever the case, never a longer name.
  ['example.com', 'http://example.com/', true],
  ['example.com', 'https://EXAMPLE.com/', true],
  ['EXAMPLE.COM', 'http://example.com/', true],
  ['example.com', 'http://www.example.com/', true],
  ['example.com', 'http://a.b.example.com:8080/', true],
  ['example.com', 'http://badexample.com/', false],
  ['example.com', 'http://example.com.evil.test/', false],
  ['example.com', 'http://example.org/', false],
  // `.suffix` and `*.suffix` are the same rule.
  ['.example.com', 'http://www.example.com/', true],
  ['.example.com', 'http://example.com/', true],
  ['*.example.com', 'http://www.example.com/', true],
  ['.example.com', 'http://notexample.com/', false],
  // A trailing dot (a fully qualified name) changes nothing.
  ['example.com.', 'http://www.example.com/', true],
  ['example.com', 'http://example.com./', true],
  // host:port matches that port only; the URL's default port counts.
  ['example.com:8080', 'http://example.com:8080/', true],
  ['example.com:8080', 'http://example.com/', false],
  ['example.com:80', 'http://example.com/', true],
  ['example.com:443', 'https://example.com/', true],
  ['example.com:443', 'http://example.com/', false],
  // Separators: commas, spaces, tabs, newlines, in any mix.
  ['a.test,b.test', 'http://b.test/', true],
  ['a.test b.test', 'http://b.test/', true],
  ['a.test,\tb.test\n c.test', 'http://c.test/', true],
  ['a.test,b.test', 'http://c.test/', false],
  // IP addresses match exactly, in canonical form, and never as a name suffix.
  ['127.0.0.1', 'http://127.0.0.1:3000/', true],
  ['127.0.0.1', 'http://127.0.0.2/', false],
  ['127.1', 'http://127.0.0.1/', true],
  ['127.0.0.1', 'http://127.1/', true],
  ['0.0.1', 'http://127.0.0.1/', false],
  ['127.0.0.1:3000', 'http://127.0.0.1:3000/', true],
  ['127.0.0.1:3000', 'http://127.0.0.1:3001/', false],
  ['::1', 'http://[::1]:8080/', true],
  ['[::1]', 'http://[::1]/', true],
  ['[::1]:8080', 'http://[::1]:8080/', true],
  ['[::1]:8080', 'http://[::1]:9090/', false],
  ['0:0:0:0:0:0:0:1', 'http://[::1]/', true],
  ['::1', 'http://[::2]/', false],
  // An IP never matches a name rule, and a name never matches an IP rule.
  ['localhost', 'http://127.0.0.1/', false],
  ['127.0.0.1', 'http://localhost/', false],
  ['localhost', 'http://localhost:5173/', true],
  // CIDR ranges (curl 7.86+).
  ['10.0.0.0/8', 'http://10.20.30.40/', true],
  ['10.0.0.0/8', 'http://11.0.0.1/', false],
  ['192.168.1.0/24', 'https://192.168.1.77:8443/', true],
  ['fd00::/8', 'http://[fd12::1]/', true],
  ['fd00::/8', 'http://[fe80::1]/', false],
  ['10.0.0.0/8', 'http://ten.example/', false],
  // Entries that cannot mean anything are ignored, not errors.
  ['10.0.0.0/99, example.com', 'http://10.0.0.1/', false],
  ['a*b.test', 'http://axb.test/', false],
  ['.', 'http://example.com/', false],
];

describe('NO_PROXY', () => {
  it.each(table)('NO_PROXY=%j: %s goes direct: %s', (noProxy, url, direct) => {
    expect(shouldBypassProxy(url, noProxy)).toBe(direct);
    expect(noProxyMatcher(noProxy)(new URL(url))).toBe(direct);
  });

  it('treats an unset value as "proxy everything"', () => {
    expect(noProxyMatcher(undefined)(new URL('http://example.com/'))).toBe(false);
  });
});
