import { isValidNsid } from "@atproto/syntax";
import type { XrpcMethod } from "@/xrpc/method";
import type { PlainRoute } from "./plain-route";

export type { PlainRoute } from "./plain-route";

/**
 * What a path names. `label` is the route's name for logs and metrics: the
 * exact registered path, the NSID, `/xrpc/*` or `unmatched`, never the raw
 * URL, so label cardinality stays bounded.
 */
export type RouteMatch =
  | { readonly kind: "plain"; readonly label: string; readonly route: PlainRoute }
  | { readonly kind: "xrpc"; readonly label: string; readonly nsid: string; readonly method: XrpcMethod }
  | { readonly kind: "unimplemented"; readonly label: "/xrpc/*"; readonly nsid: string }
  | { readonly kind: "none"; readonly label: "unmatched" };

export interface Router {
  match(path: string): RouteMatch;
}

const NONE: RouteMatch = { kind: "none", label: "unmatched" };

/**
 * Strict, exact-path routing: `/xrpc/<nsid>` for each method of the route
 * table, the plain routes by their exact path, and nothing else. A trailing
 * slash, a prefix or a second segment is not the same route (404), so the
 * rate limits that key on the matched route cannot be sidestepped by
 * spelling a path differently. A well-formed NSID that no method serves is
 * 501 MethodNotImplemented, as XRPC asks.
 */
export function createRouter(plain: Readonly<Record<string, PlainRoute>>, methods: Readonly<Record<string, XrpcMethod>>): Router {
  const routes = new Map<string, RouteMatch>();
  for (const [path, route] of Object.entries(plain)) routes.set(path, { kind: "plain", label: path, route });
  for (const [nsid, method] of Object.entries(methods)) routes.set(`/xrpc/${nsid}`, { kind: "xrpc", label: nsid, nsid, method });
  return {
    match(path) {
      const found = routes.get(path);
      if (found) return found;
      if (path.startsWith("/xrpc/")) {
        const nsid = path.slice("/xrpc/".length);
        if (isValidNsid(nsid)) return { kind: "unimplemented", label: "/xrpc/*", nsid };
      }
      return NONE;
    },
  };
}

/**
 * The path of a request URL as Bun built it (`scheme://host/path?query`),
 * found from the end of the authority rather than a fixed offset, so a short
 * or odd Host header cannot move where the path starts. Cheaper than `new URL()`.
 */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}
