import { describe, expect, it } from 'vitest';
import { checkMethod } from './methods.js';

describe('checkMethod', () => {
  it.each(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])('passes %s through', (method) => {
    expect(checkMethod(method)).toBe(method);
  });

  it.each([
    ['get', 'GET'],
    ['Post', 'POST'],
    ['patch', 'PATCH'],
    ['delete', 'DELETE'],
    ['hEaD', 'HEAD'],
    ['options', 'OPTIONS'],
    ['put', 'PUT'],
  ])('upper-cases the standard method %s', (method, wire) => {
    expect(checkMethod(method)).toBe(wire);
  });

  it.each(['PROPFIND', 'MKCOL', 'QUERY', 'M-SEARCH', 'PURGE'])('accepts the upper-case extension method %s unchanged', (method) => {
    expect(checkMethod(method)).toBe(method);
  });

  it.each(['propfind', 'Purge', 'qUERY', 'foo'])('rejects the non-standard method %j that is not upper-case', (method) => {
    expect(() => checkMethod(method)).toThrow(TypeError);
    expect(() => checkMethod(method)).toThrow(JSON.stringify(method));
    expect(() => checkMethod(method)).toThrow(/upper-case/);
  });

  it.each([
    ['', '""'],
    ['GE T', '"GE T"'],
    ['GET\r\n', '"GET\\r\\n"'],
    ['GET/', '"GET/"'],
    ['GÉT', '"GÉT"'],
    [undefined, 'undefined'],
    [null, 'null'],
    [42, '42'],
  ])('rejects %j as no HTTP token, naming the value', (method, shown) => {
    expect(() => checkMethod(method)).toThrow(TypeError);
    expect(() => checkMethod(method)).toThrow(shown);
  });

  it.each(['CONNECT', 'connect', 'TRACE', 'trace', 'TRACK'])('refuses %s, which fetch forbids', (method) => {
    expect(() => checkMethod(method)).toThrow(/is not allowed/);
  });
});
