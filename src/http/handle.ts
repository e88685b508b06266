import type { Elysia } from "elysia";
import type { Logger } from "@/log";
import type { RateLimits } from "@/rate-limit/limiter";
import type { Metrics } from "./metrics";
import { errorResponse } from "./respond";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The server's fetch function: wraps the Elysia app with a request id, rate
 * limits (before the app, so every request counts, refused ones included in
 * the log and metrics), one JSON log line and the HTTP metrics per request.
 * Route labels come from the registered routes (exact paths) and XRPC
 * NSIDs, never from raw URLs.
 */
export function createHandler(
  app: Elysia<any, any, any, any, any, any, any>,
  log: Logger,
  metrics: Metrics,
  nsids: ReadonlySet<string>,
  rateLimits: RateLimits,
) {
  const exact = new Set(app.routes.map((r) => r.path).filter((p) => !p.includes(":") && !p.includes("*")));

  const routeOf = (path: string): string => {
    if (path.startsWith("/xrpc/")) {
      const nsid = path.slice(6);
      return nsids.has(nsid) ? nsid : exact.has(path) ? path : "/xrpc/*";
    }
    return exact.has(path) ? path : "unmatched";
  };

  return async function handle(request: Request, peer?: string): Promise<Response> {
    const start = performance.now();
    const incoming = request.headers.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    let response: Response;
    try {
      response = await rateLimits.apply(request, peer, () => app.handle(request));
    } catch (err) {
      response = errorResponse(err, log);
    }
    try {
      response.headers.set("x-request-id", requestId);
    } catch {
      // Responses passed through from fetch() have immutable headers; the id is in the log.
    }
    const seconds = (performance.now() - start) / 1000;
    const path = new URL(request.url).pathname;
    const labels = { method: request.method, route: routeOf(path), status: String(response.status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    log.info("request", {
      reqId: requestId,
      method: request.method,
      route: labels.route,
      status: response.status,
      ms: Math.round(seconds * 10000) / 10,
    });
    return response;
  };
}
