/**
 * The init the core hands a runtime's fetch, as small as fetch allows: Node's
 * fetch validates and converts every key it is given (a Headers object of
 * another undici copy entry by entry), which together cost more than the
 * pool's whole bookkeeping.
 */

/** Only what differs from fetch's defaults, headers as a plain record, and `signal` as given. */
export function leanInit(init: RequestInit, signal: AbortSignal | undefined): RequestInit {
  const lean: Record<string, unknown> = {};
  for (const key in init) {
    const value = (init as Record<string, unknown>)[key];
    if (value === undefined || value === null || key === 'signal') continue;
    if ((key === 'redirect' && value === 'follow') || (key === 'method' && value === 'GET')) continue;
    const given = value instanceof Headers ? headerRecord(value) : value;
    if (given !== undefined) lean[key] = given;
  }
  if (signal !== undefined) lean.signal = signal;
  return lean;
}

/** Undefined when there are no headers. */
function headerRecord(headers: Headers): Record<string, string> | undefined {
  let record: Record<string, string> | undefined;
  headers.forEach((value, name) => {
    (record ??= {})[name] = value;
  });
  return record;
}
