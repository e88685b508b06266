import type { UserConfig } from "@/config/schema";
import { ConfigError } from "@/errors";
import { isIpOrRange } from "./client-ip";
import { DEFAULT_ROUTES, DEFAULT_RULES } from "./rules";
import type { Algorithm, RouteRule, RuleSpec } from "./types";

/** `rateLimit` after defaults: every rule complete, the route table merged. */
export interface RateLimitSettings {
  enabled: boolean;
  distributed: boolean;
  authenticated: number;
  unauthenticated: number;
  admin: number;
  tierAlgorithm: Algorithm;
  rules: Record<string, RuleSpec>;
  routes: Record<string, RouteRule[]>;
  trustedProxies: string[];
  bypassKey: string | undefined;
  bypassIps: string[];
}

/** Where a reverse proxy usually sits: the reference PDS trusts the same ranges ("loopback, linklocal, uniquelocal"). */
export const DEFAULT_TRUSTED_PROXIES = [
  "127.0.0.0/8",
  "::1/128",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "fc00::/7",
  "fe80::/10",
];

/** Applies the defaults of `rateLimit` and checks what the schema cannot: rule references and IP lists. */
export function resolveRateLimit(user: UserConfig["rateLimit"] = {}): RateLimitSettings {
  const rules: Record<string, RuleSpec> = { ...DEFAULT_RULES };
  for (const [name, rule] of Object.entries(user.rules ?? {})) {
    rules[name] = {
      key: rule.key,
      limits: rule.limits.map((l) => ({ limit: l.limit, windowMs: l.windowMs, algorithm: l.algorithm ?? "fixed-window" })),
    };
  }
  const routes: Record<string, RouteRule[]> = Object.fromEntries(
    Object.entries(DEFAULT_ROUTES).map(([nsid, list]) => [nsid, [...list]]),
  );
  for (const [nsid, list] of Object.entries(user.routes ?? {})) {
    routes[nsid] = list.map((r) => ({ rule: r.rule, points: r.points ?? 1 }));
  }
  for (const [nsid, list] of Object.entries(routes)) {
    for (const { rule } of list) {
      if (!rules[rule]) throw new ConfigError(`config rateLimit.routes.${nsid}: unknown rule ${JSON.stringify(rule)}`);
    }
  }
  const settings: RateLimitSettings = {
    enabled: user.enabled ?? true,
    distributed: user.distributed ?? false,
    authenticated: user.authenticated ?? 6000,
    unauthenticated: user.unauthenticated ?? 600,
    admin: user.admin ?? 60_000,
    tierAlgorithm: user.tierAlgorithm ?? "fixed-window",
    rules,
    routes,
    trustedProxies: user.trustedProxies ?? DEFAULT_TRUSTED_PROXIES,
    bypassKey: user.bypassKey,
    bypassIps: user.bypassIps ?? [],
  };
  // Log-ins give their point back with a negative spend, which the sliding log cannot undo.
  if (rules["login-failures"]!.limits.some((l) => l.algorithm === "sliding-log")) {
    throw new ConfigError('config rateLimit.rules.login-failures: the sliding-log algorithm cannot refund points; use "fixed-window" or "token-bucket"');
  }
  for (const field of ["trustedProxies", "bypassIps"] as const) {
    const bad = settings[field].find((entry) => !isIpOrRange(entry));
    if (bad !== undefined) {
      throw new ConfigError(`config rateLimit.${field}: expected IP addresses or CIDR ranges, got ${JSON.stringify(bad)}`);
    }
  }
  return settings;
}
