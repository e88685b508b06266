import type { Keypair } from "@atproto/crypto";
import { Counter, Histogram, type Registry } from "prom-client";
import type { RunConfig } from "@/config/resolve";
import type { LookupAll } from "@/identity/safe-fetch";
import type { Logger } from "@/log";
import { serviceLabel } from "./policy";
import type { Target } from "./target";
import type { UpstreamAgents } from "./upstream";

/** What one exchange needs from the proxy around it. */
export interface ProxyRuntime {
  readonly config: RunConfig;
  readonly log: Logger;
  readonly lookup?: LookupAll;
  readonly agents: UpstreamAgents;
  signingKey(did: string): Promise<Keypair>;
  /** The viewer's newer records merged into a view, with the upstream's lag; null to pass it on unchanged. */
  readAfterWrite(
    nsid: string,
    viewer: string,
    upstreamRev: string,
    body: unknown,
    params: URLSearchParams,
  ): Promise<{ body: unknown; lagMs: number | undefined } | null>;
  /** The bounded metric label of a target. */
  label(target: Target): string;
  /** Count an answer by service and status. */
  count(service: string, status: number): void;
  /** Time a call until its body is done. */
  observe(service: string, started: number): void;
  /** count + observe, for answers without a streamed body. */
  record(service: string, status: number, started: number): void;
}

/** Proxied calls by target service (a bounded label) and status, and their duration until the body is done. */
export function createProxyMetrics(registry: Registry) {
  const calls = new Counter({
    name: "aurora_proxy_requests_total",
    help: "Calls proxied to other services, by target service and status",
    labelNames: ["service", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "aurora_proxy_request_duration_seconds",
    help: "Duration of proxied calls until their response body was relayed, by target service",
    labelNames: ["service"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const count = (service: string, status: number) => calls.inc({ service, status: String(status) });
  const observe = (service: string, started: number) => duration.observe({ service }, (performance.now() - started) / 1000);
  return {
    label: (target: Target) => serviceLabel(target.serviceId),
    count,
    observe,
    record(service: string, status: number, started: number) {
      count(service, status);
      observe(service, started);
    },
  };
}
