/**
 * CORS for browser clients (bsky.app and other web apps call the PDS from
 * their own origin). Tokens travel in the Authorization header, never in
 * cookies, so every origin may call and no credentials mode is involved:
 * `Access-Control-Allow-Origin: *` on every response, preflights answered
 * for any origin with the headers the browser asks to send.
 */

/** Response headers atproto clients read from cross-origin responses. */
const EXPOSED = [
  "atproto-repo-rev",
  "atproto-content-labelers",
  "atproto-upstream-lag",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "ratelimit-policy",
  "retry-after",
  "dpop-nonce",
  "www-authenticate",
  "x-request-id",
].join(", ");

/** Request headers a preflight may always ask for (clients send these; more are allowed when asked). */
const ALLOWED = "authorization, content-type, content-encoding, atproto-proxy, atproto-accept-labelers, dpop, accept-language, x-request-id";
const METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
/** How long a browser may cache a preflight answer: one day, like the reference PDS. */
const MAX_AGE_SECONDS = "86400";
/** Header names as RFC 9110 tokens: what a preflight may reflect back. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/** A CORS preflight: OPTIONS with Access-Control-Request-Method. */
export function isPreflight(request: Request): boolean {
  return request.method === "OPTIONS" && request.headers.has("access-control-request-method");
}

/** The answer to a preflight: 204 with what any origin may send. */
export function preflightResponse(request: Request): Response {
  const asked = request.headers.get("access-control-request-headers")?.trim() ?? "";
  const headers = new Headers({
    "access-control-allow-origin": "*",
    "access-control-allow-methods": METHODS,
    "access-control-allow-headers": asked !== "" && HEADER_LIST.test(asked) && asked.length <= 2048 ? asked : ALLOWED,
    "access-control-max-age": MAX_AGE_SECONDS,
    vary: "access-control-request-headers",
  });
  return new Response(null, { status: 204, headers });
}

/** The CORS headers every other response carries. */
export function addCorsHeaders(headers: Headers): void {
  headers.set("access-control-allow-origin", "*");
  headers.set("access-control-expose-headers", EXPOSED);
}
