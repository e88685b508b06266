import { AtUri } from "@atproto/syntax";
import type { AppContext } from "@/app-context";
import { assertRpc } from "@/auth/permissions";
import type { Caller } from "@/auth/types";
import { InvalidRequestError, MethodNotImplementedError } from "@/errors";
import { type LookupAll, SafeFetchError, safeFetch } from "@/identity/safe-fetch";
import { type Exchange, exchange } from "./forward";
import type { Proxy, ProxyCall } from "./types";
import { PROXIED_WHEN_NAMED, assertAllowed, authOf, isRefused } from "./policy";
import { readAfterWrite } from "./read-after-write";
import { createProxyMetrics, type ProxyRuntime } from "./runtime";
import { type Target, createTargetResolver } from "./target";
import { readLimited, upstreamAgents, upstreamFailure } from "./upstream";
import { upstreamLagMs } from "./lag";

export type ProxyDeps = Pick<AppContext, "config" | "log" | "metrics" | "identity" | "accounts" | "auth" | "cached" | "db"> & {
  /** The whole context, for read-after-write merges (the proxy is built inside it). */
  readonly app: () => AppContext;
  /** Name resolution for upstream connections (tests). */
  readonly lookup?: LookupAll;
};

/** A target as an OAuth rpc scope names its audience: `did#serviceId`. */
const audienceOf = (target: Target) => `${target.did}#${target.serviceId}`;

const PUSH = new Set(["app.bsky.notification.registerPush", "app.bsky.notification.unregisterPush"]);
const GET_FEED = "app.bsky.feed.getFeed";
const FEED_RECORD_MAX = 64 * 1024;

export function createProxy(deps: ProxyDeps): Proxy {
  const { config } = deps;
  const log = deps.log.child({ component: "proxy" });
  const targets = createTargetResolver(config, deps.identity);
  const appViewRef = config.appView ? `${config.appView.did}#bsky_appview` : null;
  const agents = upstreamAgents();
  const rt: ProxyRuntime = {
    config,
    log,
    lookup: deps.lookup,
    agents,
    signingKey: (did) => deps.accounts.signingKey(did),
    async readAfterWrite(nsid, viewer, upstreamRev, body, params) {
      const merged = await readAfterWrite({ ctx: deps.app(), nsid, viewer, upstreamRev, body, params });
      if (merged === null) return null;
      return { body: merged, lagMs: await upstreamLagMs(deps.db, viewer, upstreamRev) };
    },
    ...createProxyMetrics(deps.metrics.registry),
  };

  const verb = (request: Request) => {
    if (request.method === "GET" || request.method === "HEAD" || request.method === "POST") return;
    throw new InvalidRequestError("XRPC requests only supports GET and POST");
  };

  const tokenFor = (caller: Caller | null, aud: string, lxm: string): Exchange["auth"] => (caller?.did ? { iss: caller.did, aud, lxm } : null);

  // registerPush/unregisterPush name their notification service in the body (serviceDid): that is the audience.
  const push = async ({ request, nsid, caller }: ProxyCall): Promise<Response> => {
    const body = await readLimited(request.body, config.service.maxJsonBodyBytes);
    let serviceDid: unknown;
    try {
      serviceDid = (JSON.parse(body.toString("utf8")) as { serviceDid?: unknown })?.serviceDid;
    } catch {
      throw new InvalidRequestError("Request body is not valid JSON");
    }
    if (typeof serviceDid !== "string" || !serviceDid.startsWith("did:")) throw new InvalidRequestError("Input/serviceDid must be a did");
    const target = targets.appView?.did === serviceDid ? targets.appView : await targets.service(serviceDid, "bsky_notif");
    assertRpc(caller, nsid, audienceOf(target));
    return exchange(rt, { request, nsid, target, auth: tokenFor(caller, serviceDid, nsid), body });
  };

  // getFeed's token is for the feed generator (its record's `did`), scoped to getFeedSkeleton, which the AppView calls with it.
  const feedGeneratorDid = async (request: Request): Promise<string | null> => {
    if (!config.appView) return null;
    const feed = new URL(request.url).searchParams.get("feed") ?? "";
    let uri: AtUri;
    try {
      uri = new AtUri(feed);
    } catch {
      throw new InvalidRequestError("Invalid param feed: must be an at-uri");
    }
    const appView = config.appView;
    const did = await deps.cached.get<string>("default", `proxy:feedgen:${uri.toString()}`, async () => {
      const query = new URLSearchParams({ repo: uri.host, collection: uri.collection, rkey: uri.rkey });
      const res = await safeFetch(`${appView.url}/xrpc/com.atproto.repo.getRecord?${query}`, {
        allowPrivate: true,
        timeoutMs: config.proxy.headersTimeoutMs,
        maxBytes: FEED_RECORD_MAX,
        headers: { accept: "application/json" },
        lookup: deps.lookup,
      }).catch((err) => {
        throw err instanceof SafeFetchError ? upstreamFailure("Upstream service unreachable", err) : err;
      });
      if (res.status !== 200) return null;
      const did = (res.json() as { value?: { did?: unknown } })?.value?.did;
      return typeof did === "string" && did.startsWith("did:") ? did : null;
    });
    if (!did) throw new InvalidRequestError("could not resolve feed did", "UnknownFeed");
    return did;
  };

  const forward = async (call: ProxyCall): Promise<Response> => {
    const { request, nsid, caller } = call;
    verb(request);
    assertAllowed(nsid, caller);
    if (PUSH.has(nsid)) return push(call);
    const target = await targets.resolve(nsid, request.headers.get("atproto-proxy"));
    if (!target) throw new MethodNotImplementedError(`Method Not Implemented: ${nsid}`);
    // OAuth: rpc:<nsid>?aud=<did#service>; getFeed also needs the skeleton call it leads to (as the reference).
    assertRpc(caller, nsid, audienceOf(target));
    if (nsid === GET_FEED) assertRpc(caller, "app.bsky.feed.getFeedSkeleton", audienceOf(target));
    if (nsid === GET_FEED && caller?.did) {
      const feedDid = await feedGeneratorDid(request);
      if (feedDid) return exchange(rt, { request, nsid, target, auth: tokenFor(caller, feedDid, "app.bsky.feed.getFeedSkeleton") });
    }
    return exchange(rt, { request, nsid, target, auth: tokenFor(caller, target.did, nsid) });
  };

  return {
    authOf,
    forward,
    async close() {
      agents.destroy();
    },
    wants(nsid, request, served) {
      if (served) {
        if (!PROXIED_WHEN_NAMED.has(nsid)) return false;
        const header = request.headers.get("atproto-proxy");
        return header !== null && header !== appViewRef;
      }
      if (isRefused(nsid) || PUSH.has(nsid)) return true;
      return request.headers.has("atproto-proxy") || targets.byDefault(nsid) !== null;
    },
    async serve(request, nsid, ip) {
      const { mode, accountStatus } = authOf(nsid);
      const caller = await deps.auth.verify(mode, request, { accountStatus, nsid });
      return forward({ request, nsid, caller, ip });
    },
    async forwardToAppView(call) {
      verb(call.request);
      const header = call.request.headers.get("atproto-proxy");
      const target: Target | null = header === null ? targets.appView : await targets.resolve(call.nsid, header);
      if (!target) return null;
      return exchange(rt, { request: call.request, nsid: call.nsid, target, auth: null });
    },
  };
}
