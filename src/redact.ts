/**
 * The one place that hides passwords in text: request URLs, proxy URLs and
 * every error message go through it. It works on any text, not only on
 * URLs that parse, because a bad URL is what an error message quotes.
 */

/** `scheme://` then the userinfo up to its last `@` before the host (as the URL parser splits it). */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>\\]*)@/gi;

/**
 * Every `scheme://user:password@` in `text` as `scheme://user:***@`. A
 * userinfo without a password is hidden whole (`***@`): a token is often
 * sent as the user name alone.
 */
export function redactCredentials(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, (match, scheme: string, userinfo: string) => {
    if (userinfo === '') return match;
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
  }) : text;
}
