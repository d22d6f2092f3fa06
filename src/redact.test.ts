import { describe, expect, it } from 'vitest';
import { redactCredentials } from './redact.js';
import { LocationValueError, MaxRetryError, PoolfetchError, ProtocolError } from './errors.js';
import { authorizeFromUrl, withoutCredentials } from './credentials.js';

describe('redactCredentials', () => {
  it.each([
    ['http://user:s3cr3t@host/', 'http://user:***@host/'],
    ['see http://user:s3cr3t@127.0.0.1:9/x and https://a:b@c.example/?q=1', 'see http://user:***@127.0.0.1:9/x and https://a:***@c.example/?q=1'],
    // The URL parser splits at the last @ of the authority: so does the redaction.
    ['http://user:p@ss@host/', 'http://user:***@host/'],
    ['"http://user:s3cr3t@"', '"http://user:***@"'],
    // A user name alone is often a token: hidden whole.
    ['https://ghp_token@github.example/', 'https://***@github.example/'],
    ['http://:only-password@host', 'http://:***@host'],
    ['HTTP://U:P@HOST/', 'HTTP://U:***@HOST/'],
    // Nothing to hide.
    ['http://host/path?email=a@b.example', 'http://host/path?email=a@b.example'],
    ['http://@host/', 'http://@host/'],
    ['mailto:a@b.example', 'mailto:a@b.example'],
    ['no url here', 'no url here'],
  ])('%s -> %s', (text, expected) => {
    expect(redactCredentials(text)).toBe(expected);
  });
});

describe('errors never show a password', () => {
  it('hides it in the message, the stack, the url field and String(error)', () => {
    const error = new ProtocolError('Connection broken (POST http://user:s3cr3t@127.0.0.1:9/x)', { method: 'POST', url: 'http://user:s3cr3t@127.0.0.1:9/x' });
    expect(error.message).toBe('Connection broken (POST http://user:***@127.0.0.1:9/x)');
    expect(error.url).toBe('http://user:***@127.0.0.1:9/x');
    expect(String(error)).not.toContain('s3cr3t');
    expect(error.stack).not.toContain('s3cr3t');
  });

  it('hides it in MaxRetryError, which repeats its reason', () => {
    const reason = new PoolfetchError('refused (GET http://u:s3cr3t@h/)');
    const error = new MaxRetryError(reason, { method: 'GET', url: 'http://u:s3cr3t@h/' });
    expect(error.message).toBe('Max retries exceeded (GET http://u:***@h/): caused by PoolfetchError: refused (GET http://u:***@h/)');
  });
});

describe('credentials in a URL', () => {
  it('become authorization: Basic, percent-decoded and UTF-8', () => {
    const headers = authorizeFromUrl(new Headers(), new URL('http://j%C3%B6rg:p%40ss:w@h/'));
    expect(headers.get('authorization')).toBe(`Basic ${Buffer.from('jörg:p@ss:w', 'utf8').toString('base64')}`);
  });

  it('leave an authorization the request set itself', () => {
    const own = new Headers({ authorization: 'Bearer mine' });
    expect(authorizeFromUrl(own, new URL('http://u:p@h/')).get('authorization')).toBe('Bearer mine');
  });

  it('are taken out of a copy of the URL, never the caller\'s', () => {
    const url = new URL('http://u:p@h:8080/a?b#c');
    expect(withoutCredentials(url).href).toBe('http://h:8080/a?b#c');
    expect(url.href).toBe('http://u:p@h:8080/a?b#c');
  });

  it('that are not valid percent-encoding are a LocationValueError that does not repeat them', () => {
    const error = (() => {
      try {
        authorizeFromUrl(new Headers(), new URL('http://u:s3cr3t%E0%A4%A@h/'));
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(LocationValueError);
    expect(error?.message).toBe('Credentials in http://h URL: not valid percent-encoding');
  });
});
