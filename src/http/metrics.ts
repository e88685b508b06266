import { Registry, collectDefaultMetrics } from "prom-client";
import { LabelledCounter, LabelledHistogram } from "@/util/labelled-metrics";

/**
 * One registry per server context (not prom-client's global one), so several
 * contexts in one test process never collide. Route labels are NSIDs or
 * route templates, never raw URLs: label cardinality stays bounded. Every
 * request updates the two HTTP metrics, so they are the registry's cheaper
 * kind (util/labelled-metrics.ts).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "aurora_process_" });
  const labelNames = ["method", "route", "status"] as const;
  return {
    registry,
    httpRequests: new LabelledCounter(registry, {
      name: "aurora_http_requests_total",
      help: "HTTP requests served, by method, NSID or route template, and status",
      labelNames,
    }),
    httpDuration: new LabelledHistogram(registry, {
      name: "aurora_http_request_duration_seconds",
      help: "HTTP request duration in seconds, by method, NSID or route template, and status",
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
