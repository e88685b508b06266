import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Registry } from "prom-client";
import { memory } from "@/cache/memory";
import type { RunConfig } from "@/config/resolve";
import type { CachePlugin } from "@/contracts/cache";
import type { Logger } from "@/log";
import { UPGRADED } from "@/xrpc/upgraded";
import { clientIp, ipMatcher } from "./client-ip";
import { decorate, RateLimitedError, refusal, tightest } from "./headers";
import { type Identify, tokenIdentify } from "./identify";
import { createRateLimitMetrics } from "./metrics";
import { TIER_WINDOW_MS } from "./rules";
import { LimitStore } from "./store";
import { needsBody, type RequestFacts, readBodyFields, subjectOf } from "./subjects";
import type { LimitSpec, LimitStatus } from "./types";

/** The rate limiter as the rest of the server sees it (`ctx.rateLimits`). */
export interface RateLimits {
  /**
   * Runs `next` (the matched route) unless a limit refuses it (then a 429
   * `RateLimitExceeded` with Retry-After), counting it against its tier and
   * the NSID's rules, and puts RateLimit-* headers on the response. Called by
   * the request path after routing, so limits follow the route that will
   * actually run, never the raw URL; exempt routes (probes) pass uncounted.
   */
  apply(request: Request, route: LimitedRoute, next: () => Promise<Response>): Promise<Response>;
  /** The client's IP: the socket's `peer`, or forwarding headers when `peer` is a trusted proxy. */
  clientIp(request: Request, peer: string | undefined): string;
  /**
   * Spends `points` of rule `rule` (a name from `rateLimit.rules`, e.g.
   * "repo-write") for `key` (e.g. the DID), for costs that depend on the
   * input. Throws `RateLimitedError` (a 429 `RateLimitExceeded`) when any
   * of the rule's limits refuses; inside a request the response carries the
   * headers. A no-op when limits are off or the request bypasses them.
   */
  consumePoints(rule: string, key: string, points: number): Promise<void>;
  /**
   * Gives back `points` that `consumePoints` spent (e.g. a login that turned
   * out not to be a failure). Not counted as a request in the metrics and
   * not reported in the response's headers. Fixed windows and token buckets
   * can refund; a sliding log cannot (its entries are timestamps), so rules
   * that refund must not use it.
   */
  refund(rule: string, key: string, points: number): Promise<void>;
  /**
   * Drop the counters that name account `did` (account deletion): its tier, the rules keyed by DID or
   * DID and IP, and log-ins by the DID as identifier. Hashed long subjects and handle or email keys stay
   * until their windows end.
   */
  forgetAccount(did: string): Promise<void>;
  close(): Promise<void>;
}

/** What the router decided about a request. */
export interface LimitedRoute {
  readonly ip: string;
  /** The XRPC method the path names (served or not); undefined for plain routes and unmatched paths. */
  readonly nsid: string | undefined;
  readonly exempt: boolean;
}

export interface RateLimitsOptions {
  config: RunConfig;
  /** The configured cache: the shared store when `rateLimit.distributed`. */
  cache: CachePlugin;
  log: Logger;
  registry: Registry;
  /** How callers are told apart; defaults to verifying session tokens and admin Basic auth. */
  identify?: Identify;
}

/** Per request: the statuses `consumePoints` adds for the response headers, and whether limits are bypassed. */
interface Scope {
  statuses: LimitStatus[];
  bypass: boolean;
}

const BYPASS_HEADER = "x-ratelimit-bypass";

const digest = (text: string) => createHash("sha256").update(text).digest();

export async function createRateLimits(options: RateLimitsOptions): Promise<RateLimits> {
  const { config, log, registry } = options;
  const settings = config.rateLimit;
  const metrics = createRateLimitMetrics(registry);
  const local = memory();
  await local.init({ dataDir: config.dataDir, log, metrics: registry });
  const store = new LimitStore(local, settings.distributed ? options.cache : undefined, log, metrics);
  const identify = options.identify ?? tokenIdentify(config.secrets, config.service.did);
  const trusted = ipMatcher(settings.trustedProxies);
  const bypassIp = ipMatcher(settings.bypassIps);
  const bypassKey = settings.bypassKey === undefined ? undefined : digest(settings.bypassKey);
  const scopes = new AsyncLocalStorage<Scope>();
  const tiers = {
    authenticated: tierLimits(settings.authenticated),
    unauthenticated: tierLimits(settings.unauthenticated),
    admin: tierLimits(settings.admin),
  };
  function tierLimits(limit: number): readonly LimitSpec[] {
    return [{ limit, windowMs: TIER_WINDOW_MS, algorithm: settings.tierAlgorithm }];
  }

  /** Every limit of one rule for one subject, in parallel; counted once per rule. */
  const consumeRule = async (label: string, limits: readonly LimitSpec[], key: string, points: number) => {
    const statuses =
      limits.length === 1 ? [await store.consume(limits[0]!, key, points)] : await Promise.all(limits.map((spec) => store.consume(spec, key, points)));
    metrics.count(label, statuses.every((s) => s.allowed));
    return statuses;
  };

  const bypassed = (request: Request, ip: string): boolean => {
    const presented = request.headers.get(BYPASS_HEADER);
    if (bypassKey && presented !== null && timingSafeEqual(digest(presented), bypassKey)) {
      metrics.bypassed.inc({ reason: "key" });
      return true;
    }
    if (bypassIp(ip)) {
      metrics.bypassed.inc({ reason: "ip" });
      return true;
    }
    return false;
  };

  const check = async (request: Request, ip: string, nsid: string | undefined): Promise<LimitStatus[]> => {
    const caller = await identify(request);
    const tier = caller === null ? "unauthenticated" : caller.kind === "admin" ? "admin" : "authenticated";
    const tierKey = caller === null ? ip : caller.kind === "admin" ? "admin" : caller.did;
    const routes = nsid === undefined ? [] : (settings.routes[nsid] ?? []);
    const rules = routes.map((route) => ({ route, spec: settings.rules[route.rule] })).filter((r) => r.spec !== undefined);
    const body = rules.some((r) => needsBody(r.spec!.key))
      ? await readBodyFields(request, config.service.maxJsonBodyBytes)
      : undefined;
    const facts: RequestFacts = { ip, did: caller?.kind === "user" ? caller.did : undefined, body };
    const checks = [consumeRule(`tier:${tier}`, tiers[tier], `tier-${tier}:${tierKey}`, 1)];
    for (const { route, spec } of rules) {
      const subject = subjectOf(spec!.key, facts);
      if (subject !== null) checks.push(consumeRule(route.rule, spec!.limits, `${route.rule}:${subject}`, route.points));
    }
    // Most requests have only their tier: skip the Promise.all.
    return checks.length === 1 ? await checks[0]! : (await Promise.all(checks)).flat();
  };

  return {
    async apply(request, route, next) {
      if (!settings.enabled || route.exempt) return next();
      const { ip } = route;
      if (bypassed(request, ip)) return scopes.run({ statuses: [], bypass: true }, next);
      const statuses = await check(request, ip, route.nsid);
      const refused = statuses.filter((s) => !s.allowed);
      if (refused.length > 0) return refusal(tightest(refused)!);
      const scope: Scope = { statuses, bypass: false };
      const response = await scopes.run(scope, next);
      // An upgraded request has no response to decorate (the shared UPGRADED marker is never sent).
      if (response !== UPGRADED) decorate(response, scope.statuses);
      return response;
    },
    clientIp: (request, peer) => clientIp(request, peer, trusted),
    async consumePoints(rule, key, points) {
      const spec = settings.rules[rule];
      if (!spec) throw new Error(`rate limit rule ${JSON.stringify(rule)} is not configured`);
      const scope = scopes.getStore();
      if (!settings.enabled || scope?.bypass) return;
      const statuses = await consumeRule(rule, spec.limits, `${rule}:${key}`, points);
      scope?.statuses.push(...statuses);
      const refused = statuses.filter((s) => !s.allowed);
      if (refused.length > 0) throw new RateLimitedError(tightest(refused)!);
    },
    async refund(rule, key, points) {
      const spec = settings.rules[rule];
      if (!spec) throw new Error(`rate limit rule ${JSON.stringify(rule)} is not configured`);
      if (!settings.enabled || scopes.getStore()?.bypass) return;
      await Promise.all(spec.limits.map((limit) => store.consume(limit, `${rule}:${key}`, -points)));
    },
    async forgetAccount(did) {
      const drops = tiers.authenticated.map((spec) => store.forget(spec, `tier-authenticated:${did}`));
      for (const [name, rule] of Object.entries(settings.rules)) {
        for (const spec of rule.limits) {
          if (rule.key === "did") drops.push(store.forget(spec, `${name}:${did}`));
          if (rule.key === "did-ip") drops.push(store.forget(spec, `${name}:${did}@`, true));
          if (rule.key === "identifier-ip") drops.push(store.forget(spec, `${name}:${did.toLowerCase()}@`, true));
        }
      }
      await Promise.all(drops);
    },
    close: () => local.close(),
  };
}
