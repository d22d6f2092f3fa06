/**
 * undici `connect` functions for pools behind a proxy. A pool's sockets go
 * to the proxy (TLS when it is an https:// proxy); a tunnel pool then sends
 * `CONNECT host:port` on each one and, once the proxy answers 2xx, starts
 * TLS to the origin inside it (SNI = the origin's name). One deadline, the
 * connect timeout, covers all of it. Learned from undici's ProxyAgent
 * (lib/dispatcher/proxy-agent.js), which does the same over its own Client.
 *
 * Failures that are the proxy's (refused, reset, a non-2xx answer, TLS to
 * the proxy) become `ProxyError`; a timeout stays undici's connect timeout,
 * so it is translated and retried like any other.
 */
import type { Socket } from 'node:net';
import { buildConnector, errors as undiciErrors } from 'undici';
import { ProxyError } from '../../src/errors.js';
import { connectionOptions, type ProxyRoute } from './proxy-url.js';
import { SOCKET_OPTIONS } from './connections.js';
import type { TlsOptions } from '../../src/types.js';

/** The most bytes of response head a proxy may send to CONNECT. */
const MAX_CONNECT_HEAD = 16 * 1024;

/** One try at a connection: the sockets it opened, and the callback that must be called once. */
class Attempt {
  readonly sockets: Socket[] = [];
  #callback: buildConnector.Callback | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(callback: buildConnector.Callback, timeout: number, target: string) {
    this.#callback = callback;
    this.#timer = timeout > 0
      ? setTimeout(() => this.fail(new undiciErrors.ConnectTimeoutError(`Connect timeout after ${timeout} ms (through a proxy to ${target})`)), timeout)
      : undefined;
  }

  get settled(): boolean {
    return this.#callback === undefined;
  }

  track(socket: unknown): void {
    if (socket !== undefined && socket !== null) this.sockets.push(socket as Socket);
  }

  fail(error: Error): void {
    const callback = this.#settle();
    if (callback === undefined) return;
    for (const socket of this.sockets) socket.on('error', noop).destroy();
    callback(error, null);
  }

  succeed(socket: Socket): void {
    const callback = this.#settle();
    if (callback === undefined) {
      socket.on('error', noop).destroy();
      return;
    }
    callback(null, socket);
  }

  #settle(): buildConnector.Callback | undefined {
    const callback = this.#callback;
    this.#callback = undefined;
    clearTimeout(this.#timer);
    return callback;
  }
}

function noop(): void {}

/** The host part of a URL or a CONNECT target: IPv6 addresses in brackets. */
function urlHost(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_)|CERT|UNABLE_TO_/;

/** A connection to the proxy failed: say so, naming the proxy but never its credentials. */
function cannotReach(route: ProxyRoute, error: Error): ProxyError {
  const code = (error as Error & { code?: string }).code ?? '';
  const message = TLS_CODES.test(code)
    ? `TLS verification of proxy ${route.origin} failed: ${error.message}. To trust a private certificate authority pass proxyTls: { ca }`
    : `Cannot connect to proxy ${route.origin}: ${error.message}`;
  return new ProxyError(message, { cause: error });
}

/** Opens a socket to the proxy and hands it to `then`. */
function openToProxy(route: ProxyRoute, connector: buildConnector.connector, attempt: Attempt, then: (socket: Socket) => void): void {
  const socket: unknown = connector(
    {
      hostname: route.hostname,
      host: `${urlHost(route.hostname)}:${route.port}`,
      protocol: `${route.scheme}:`,
      port: String(route.port),
    },
    (error, connected) => {
      if (attempt.settled) return;
      if (error !== null) attempt.fail(cannotReach(route, error));
      else then(connected);
    },
  );
  attempt.track(socket);
}

/** The connector's own timeout is off: the attempt's deadline covers every step. */
function proxyLeg(route: ProxyRoute): buildConnector.connector {
  return buildConnector({ ...route.tls(), ...SOCKET_OPTIONS, timeout: 0 } as buildConnector.BuildOptions);
}

/** Sockets to the proxy itself, for the pool that forwards http requests in absolute form. */
export function forwardConnector(route: ProxyRoute, timeout: number): buildConnector.connector {
  const toProxy = proxyLeg(route);
  return (_options, callback) => {
    const attempt = new Attempt(callback, timeout, route.origin);
    openToProxy(route, toProxy, attempt, (socket) => attempt.succeed(socket));
  };
}

/** Sockets tunnelled through the proxy with CONNECT, then TLS to the origin with `originTls`. */
export function tunnelConnector(route: ProxyRoute, originTls: TlsOptions | undefined, timeout: number): buildConnector.connector {
  const toProxy = proxyLeg(route);
  const toOrigin = buildConnector({ ...connectionOptions(originTls), timeout: 0 } as buildConnector.BuildOptions);
  return (options, callback) => {
    const port = options.port === '' ? 443 : Number(options.port);
    const target = `${urlHost(options.hostname)}:${port}`;
    const attempt = new Attempt(callback, timeout, target);
    openToProxy(route, toProxy, attempt, (socket) => {
      sendConnect(socket, target, route, attempt, () => {
        const secure: unknown = toOrigin(
          { ...options, port: String(port), protocol: 'https:', httpSocket: socket },
          (error, connected) => {
            if (attempt.settled) return;
            // The origin's TLS errors are the origin's: they are translated as a direct pool's are.
            if (error !== null) attempt.fail(error);
            else attempt.succeed(connected);
          },
        );
        attempt.track(secure);
      });
    });
  };
}

/** Sends `CONNECT target` and calls `then` once the proxy has answered 2xx. */
function sendConnect(socket: Socket, target: string, route: ProxyRoute, attempt: Attempt, then: () => void): void {
  const lines = [`CONNECT ${target} HTTP/1.1`, `host: ${target}`];
  route.headers().forEach((value, name) => {
    if (name !== 'host') lines.push(`${name}: ${value}`);
  });
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = (): void => {
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
  };
  const fail = (error: ProxyError): void => {
    cleanup();
    attempt.fail(error);
  };
  const onError = (error: Error): void => {
    fail(new ProxyError(`Proxy ${route.origin} broke the connection during CONNECT ${target}: ${error.message}`, { cause: error }));
  };
  const onEnd = (): void => {
    fail(new ProxyError(`Proxy ${route.origin} closed the connection before answering CONNECT ${target}`));
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    const head = Buffer.concat(chunks, size);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (size > MAX_CONNECT_HEAD) fail(new ProxyError(`Proxy ${route.origin} sent more than ${MAX_CONNECT_HEAD} bytes of headers in answer to CONNECT ${target}`));
      return;
    }
    cleanup();
    socket.pause();
    const text = head.subarray(0, end).toString('latin1');
    const statusLine = text.split('\r\n', 1)[0] ?? '';
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (match === null) {
      attempt.fail(new ProxyError(`Proxy ${route.origin} answered CONNECT ${target} with something that is not HTTP: ${JSON.stringify(statusLine.slice(0, 80))}`));
      return;
    }
    const status = Number(match[1]);
    if (status < 200 || status > 299) {
      attempt.fail(refused(route, target, status, match[2] ?? '', text));
      return;
    }
    if (end + 4 < size) {
      // The origin speaks first only after our TLS hello: bytes here are the proxy's mistake.
      attempt.fail(new ProxyError(`Proxy ${route.origin} sent data after its answer to CONNECT ${target} and before TLS began`));
      return;
    }
    then();
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}

/** The ProxyError for a CONNECT the proxy answered with a non-2xx status. */
export function refused(route: ProxyRoute, target: string, status: number, reason: string, head = ''): ProxyError {
  const said = `${status}${reason === '' ? '' : ` ${reason}`}`;
  if (status === 407) {
    const challenge = /^proxy-authenticate:[ \t]*(.*)$/im.exec(head)?.[1]?.trim();
    return new ProxyError(
      `Proxy authentication required: ${route.origin} answered ${said} to CONNECT ${target}` +
        `${challenge === undefined ? '' : ` (it asks for ${challenge})`}. ` +
        'Put the credentials in the proxy URL or pass proxyHeaders: makeHeaders({ proxyBasicAuth })',
      { status },
    );
  }
  return new ProxyError(`Proxy ${route.origin} refused to tunnel to ${target}: it answered ${said} to CONNECT`, { status });
}
