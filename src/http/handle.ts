import type { AppContext } from "@/app-context";
import { MethodNotImplementedError, XrpcError } from "@/errors";
import { UPGRADED } from "@/xrpc/upgraded";
import { addCorsHeaders, isPreflight, preflightResponse } from "./cors";
import { errorResponse, json } from "./respond";
import { type RouteMatch, type Router, pathOf } from "./router";
import { type Arrival, dispatch } from "./xrpc";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const NO_UPGRADE = () => false;
const GET_HEAD = ["GET", "HEAD"] as const;
/** Methods that get their own label; anything else is "OTHER", so label cardinality stays bounded. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Turns the request into a WebSocket carrying `data` (Bun's `server.upgrade`); absent in process. */
export type Upgrade = (data: unknown) => boolean;

/**
 * The one request path, the server's fetch function. For every request,
 * WebSocket upgrades included: a request id; strict routing (router.ts);
 * CORS preflights answered (cors.ts); the client IP; rate limits keyed by
 * the matched route (its tier, and the NSID's rules), unless the route is an
 * exempt probe; the route itself (XRPC dispatch: auth, params, body,
 * handler); the one error mapper; CORS headers; then one JSON log line and
 * the HTTP metrics, labelled by the matched route.
 */
export function createHandler(ctx: AppContext, router: Router) {
  const { log, metrics, rateLimits } = ctx;

  const run = async (match: RouteMatch, request: Request, arrival: Arrival): Promise<Response> => {
    try {
      switch (match.kind) {
        case "xrpc":
          // Aurora's own methods stay here, except the few an atproto-proxy header may send elsewhere (preferences).
          if (ctx.proxy.wants(match.nsid, request, true)) return await ctx.proxy.serve(request, match.nsid, arrival.ip);
          return await dispatch(ctx, match.nsid, match.method, request, arrival);
        case "plain":
          if (!(match.route.methods ?? GET_HEAD).includes(request.method as "GET")) {
            throw new XrpcError(405, "MethodNotAllowed", `Method ${request.method.slice(0, 16)} not allowed`);
          }
          return await match.route.handler(request, arrival.ip);
        case "unimplemented":
          // Everything Aurora does not serve goes to the AppView, chat, report service or the header's target.
          if (ctx.proxy.wants(match.nsid, request, false)) return await ctx.proxy.serve(request, match.nsid, arrival.ip);
          throw new MethodNotImplementedError(`Method Not Implemented: ${match.nsid}`);
        case "none":
          return json({ error: "NotFound", message: "Not Found" }, 404);
      }
    } catch (err) {
      return errorResponse(err, log);
    }
  };

  /** Client IP, then rate limits keyed by the matched route around the route itself. */
  const limited = async (match: RouteMatch, request: Request, peer: string | undefined, upgrade: Upgrade): Promise<Response> => {
    try {
      const ip = rateLimits.clientIp(request, peer);
      const nsid = match.kind === "xrpc" || match.kind === "unimplemented" ? match.nsid : undefined;
      const exempt = match.kind === "plain" && match.route.exempt === true;
      return await rateLimits.apply(request, { ip, nsid, exempt }, () => run(match, request, { ip, upgrade }));
    } catch (err) {
      return errorResponse(err, log);
    }
  };

  return async function handle(request: Request, peer?: string, upgrade: Upgrade = NO_UPGRADE): Promise<Response> {
    const start = performance.now();
    const incoming = request.headers.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const match = router.match(pathOf(request.url));
    // Preflights are answered before limits: a browser sends one ahead of many real calls.
    const response = isPreflight(request) ? preflightResponse(request) : await limited(match, request, peer, upgrade);
    const upgraded = response === UPGRADED;
    if (!upgraded) {
      try {
        response.headers.set("x-request-id", requestId);
        addCorsHeaders(response.headers);
        // DPoP clients keep the latest nonce from every response (RFC 9449 §8.2), so their next proof needs no retry.
        if (request.headers.has("dpop") && !response.headers.has("dpop-nonce")) response.headers.set("dpop-nonce", ctx.oauth.dpop.nonce());
      } catch {
        // Responses passed through from fetch() have immutable headers; the id is in the log.
      }
    }
    const status = upgraded ? 101 : response.status;
    const seconds = (performance.now() - start) / 1000;
    const method = METHODS.has(request.method) ? request.method : "OTHER";
    const labels = { method, route: match.label, status: String(status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    log.info("request", { reqId: requestId, method, route: labels.route, status, ms: Math.round(seconds * 10000) / 10 });
    return response;
  };
}
