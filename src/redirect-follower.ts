/**
 * The seam for following redirects hop by hop. Both entries hand the core
 * the `RedirectFollower` of src/redirects.ts; a transport that cannot show
 * a 3xx (a browser's fetch: `followsRedirects`) is left to follow by itself,
 * and without a follower the loops return every response as the transport
 * gave it. Types only: nothing here reaches a bundle.
 */
import type { PoolResponse } from './response.js';
import type { WireBody, WireResponse } from './transport.js';

/** fetch's body, from the runtime's own `RequestInit`: `BodyInit` is lib.dom's name only (see `HeadersLike`). */
type FetchBody = NonNullable<RequestInit['body']>;

/** What a hop changes and reads, shared by `request()` and `fetch()`. */
interface Hop<Body> {
  method: string;
  url: URL;
  headers: Headers;
  body: Body | null;
  /** The URLs redirected to so far, in order; a hop appends its target. */
  readonly redirects: string[];
  /** False for a stream body: it is spent once sent, so a 307/308 cannot resend it. */
  readonly replayable: boolean;
  /** Whether this requester serves `url` (a pool serves only its own origin): if not, the 3xx is the answer. */
  serves(url: URL): boolean;
}

/** One call of `request()` as a follower sees it. */
export interface RequestHop extends Hop<WireBody> {
  /** Spends one hop of the retry budget; throws `MaxRetryError` once none is left. */
  spendHop(): void;
  /**
   * The 3xx as the final response, where hops ran out and the retry options
   * say to return it (`raiseOnRedirect: false`); undefined where it throws.
   */
  keep(response: WireResponse): Promise<PoolResponse> | undefined;
}

/** One call of `fetch()` as a follower sees it. */
export interface FetchHop extends Hop<FetchBody> {
  /** The fetch `redirect` mode: `follow` or `error` (`manual` never reaches a follower). */
  readonly mode: NonNullable<RequestInit['redirect']>;
  /** Hops allowed: fetch's 20 for `manager.fetch`; 0 hands the 3xx back (a manager made with `redirect: false`). */
  readonly limit: number;
}

/**
 * Follows one redirect. Each method answers undefined, synchronously, when
 * the response is no redirect to follow (an async layer would cost every
 * request a promise and a turn), true once the hop is set up in the given
 * state (send again), or the response to hand back.
 */
export interface RedirectFollower {
  request(run: RequestHop, response: WireResponse): Promise<PoolResponse | true> | undefined;
  fetch(run: FetchHop, response: Response): Promise<boolean> | undefined;
}
