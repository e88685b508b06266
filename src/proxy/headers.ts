import type { IncomingHttpHeaders } from "node:http";

/**
 * Header rules of a proxied call. Both directions are allow-lists, so
 * hop-by-hop headers (connection, keep-alive, transfer-encoding, te,
 * trailer, upgrade, proxy-*), the caller's authorization and DPoP proof,
 * cookies and set-cookie never cross; neither does a header the client
 * declared hop-by-hop by listing it in `Connection`.
 */
const REQUEST_HEADERS = ["accept-language", "atproto-accept-labelers", "x-bsky-topics"] as const;
const REQUEST_BODY_HEADERS = ["content-type", "content-encoding", "content-length"] as const;

/** Passed back on every answer, errors included (the reference's list). */
const RESPONSE_HEADERS = ["atproto-repo-rev", "atproto-content-labelers", "retry-after"] as const;
/** Passed back with a body the upstream wrote. */
const RESPONSE_BODY_HEADERS = ["content-type", "content-language", "content-encoding", "content-length"] as const;

export interface RequestHeaderOptions {
  /** The call carries the client's body: its content headers go along. */
  readonly body: boolean;
  /** Ask for an unencoded response (one we will read ourselves). */
  readonly identity: boolean;
}

/** The headers sent upstream (authorization is added by the caller, ours, never the client's). */
export function upstreamRequestHeaders(request: Request, opts: RequestHeaderOptions): Record<string, string> {
  const hopByHop = connectionTokens(request.headers.get("connection"));
  const out: Record<string, string> = {
    "accept-encoding": (!opts.identity && request.headers.get("accept-encoding")) || "identity",
  };
  const names = opts.body ? [...REQUEST_HEADERS, ...REQUEST_BODY_HEADERS] : REQUEST_HEADERS;
  for (const name of names) {
    const value = request.headers.get(name);
    if (value !== null && !hopByHop.has(name)) out[name] = value;
  }
  return out;
}

/** The upstream's headers we pass back; `body` adds the content headers of a body we relay as it came. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, body: boolean): Headers {
  const hopByHop = connectionTokens(single(upstream.connection) ?? null);
  const out = new Headers();
  const names = body ? [...RESPONSE_BODY_HEADERS, ...RESPONSE_HEADERS] : RESPONSE_HEADERS;
  for (const name of names) {
    const value = single(upstream[name]);
    if (value !== undefined && !hopByHop.has(name)) out.set(name, value);
  }
  return out;
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(",") : value);

function connectionTokens(value: string | null): Set<string> {
  if (!value) return new Set();
  return new Set(value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
}
