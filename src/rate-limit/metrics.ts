import { Counter, type Registry } from "prom-client";

/** Rate-limit counters on the context's registry. Rule labels come from the config: bounded. */
export function createRateLimitMetrics(registry: Registry) {
  const requests = new Counter({
    name: "aurora_rate_limit_requests_total",
    help: "Requests counted against a rate limit, by rule (tier:<tier> or a route rule) and outcome (allowed or limited)",
    labelNames: ["rule", "outcome"] as const,
    registers: [registry],
  });
  // Labelled children per rule, so the hot path does not hash a label object per request.
  const children = new Map<string, { allowed: Counter.Internal; limited: Counter.Internal }>();
  return {
    requests,
    /** One request checked against `rule`. */
    count(rule: string, allowed: boolean): void {
      let child = children.get(rule);
      if (!child) {
        child = { allowed: requests.labels(rule, "allowed"), limited: requests.labels(rule, "limited") };
        children.set(rule, child);
      }
      (allowed ? child.allowed : child.limited).inc();
    },
    bypassed: new Counter({
      name: "aurora_rate_limit_bypassed_total",
      help: "Requests let through without rate limiting by the bypass key or a bypass IP",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: "aurora_rate_limit_fallbacks_total",
      help: "Rate-limit checks run on the node's local store because the distributed store (Redis) was unavailable",
      registers: [registry],
    }),
  };
}

export type RateLimitMetrics = ReturnType<typeof createRateLimitMetrics>;
