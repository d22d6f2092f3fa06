/**
 * `NO_PROXY`: which targets skip the proxy. The rules are curl's and
 * Python's (and undici's `EnvHttpProxyAgent`'s), which agree on these:
 *
 * - entries are separated by commas or whitespace; case does not matter;
 * - `*` alone sends everything direct;
 * - `example.com`, `.example.com` and `*.example.com` all match
 *   `example.com` and every name under it (never `badexample.com`);
 * - `host:port` and `[v6]:port` match that port only; otherwise any port;
 * - an IP address matches that address only (`127.1`, `::0001` are
 *   compared in canonical form), and `10.0.0.0/8` or `fd00::/8` a range.
 */
import { BlockList, isIP } from 'node:net';

/** True when a request to `url` should go direct. */
export type ProxyBypass = (url: URL) => boolean;

type Rule =
  | { kind: 'name'; name: string; port: number | undefined }
  | { kind: 'ip'; address: string; port: number | undefined }
  | { kind: 'range'; list: BlockList };

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** Parses a `NO_PROXY` value once into a function that tells whether a URL skips the proxy. */
export function noProxyMatcher(value: string | undefined): ProxyBypass {
  const entries = (value ?? '').split(/[\s,]+/).map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== '');
  if (entries.includes('*')) return () => true;
  const rules = entries.map(parseEntry).filter((rule): rule is Rule => rule !== undefined);
  if (rules.length === 0) return () => false;
  return (url) => {
    const host = hostOf(url);
    const port = url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? 0) : Number(url.port);
    const ip = isIP(host);
    return rules.some((rule) => {
      switch (rule.kind) {
        case 'range':
          return ip !== 0 && rule.list.check(host, ip === 6 ? 'ipv6' : 'ipv4');
        case 'ip':
          return ip !== 0 && host === rule.address && (rule.port === undefined || rule.port === port);
        case 'name':
          return ip === 0 && (host === rule.name || host.endsWith(`.${rule.name}`)) && (rule.port === undefined || rule.port === port);
      }
    });
  };
}

/** Whether `url` skips the proxy under `noProxy` (a `NO_PROXY` value). */
export function shouldBypassProxy(url: string | URL, noProxy: string | undefined): boolean {
  return noProxyMatcher(noProxy)(url instanceof URL ? url : new URL(url));
}

/** The URL's host without IPv6 brackets or a trailing dot. */
function hostOf(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function parseEntry(entry: string): Rule | undefined {
  const slash = entry.indexOf('/');
  if (slash !== -1) return parseRange(entry.slice(0, slash), entry.slice(slash + 1));
  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if (entry.indexOf(':') === entry.lastIndexOf(':')) {
    // One colon at most: `host:port`. More than one is a bare IPv6 address, which has no port.
    const withPort = /^(.+):(\d+)$/.exec(entry);
    if (withPort !== null) {
      host = withPort[1] ?? '';
      port = Number(withPort[2]);
    }
  }
  const address = canonicalAddress(host);
  if (address !== undefined) return { kind: 'ip', address, port };
  const name = host.replace(/^\*?\./, '').replace(/\.$/, '');
  if (name === '' || name.includes('*')) return undefined;
  return { kind: 'name', name, port };
}

function parseRange(base: string, bits: string): Rule | undefined {
  const address = canonicalAddress(base.replace(/^\[|\]$/g, ''));
  if (address === undefined || !/^\d+$/.test(bits)) return undefined;
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const prefix = Number(bits);
  if (prefix > (family === 'ipv6' ? 128 : 32)) return undefined;
  const list = new BlockList();
  list.addSubnet(address, prefix, family);
  return { kind: 'range', list };
}

/** An IP address in the form the URL parser gives it (`127.1` → `127.0.0.1`), or undefined for a name. */
function canonicalAddress(host: string): string | undefined {
  if (isIP(host) === 6) {
    const parsed = new URL(`http://[${host}]/`).hostname;
    return parsed.slice(1, -1);
  }
  if (!/^[\d.]+$|^0x/i.test(host)) return undefined;
  try {
    const parsed = new URL(`http://${host}/`).hostname;
    return isIP(parsed) === 4 ? parsed : undefined;
  } catch {
    return undefined;
  }
}
