/**
 * docs/monitoring must stay true to the code: both files parse, and every
 * aurora_* metric they query is one the server defines (a renamed metric
 * would otherwise leave a dashboard panel empty and an alert silent).
 */
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { type TestContext, testContext } from "./support/context";

const ROOT = join(import.meta.dir, "..");
const DOCS = join(ROOT, "docs/monitoring");

/** Metric names registered in src/ and plugins/ (`name: "aurora_..."`), plus the live registry (process metrics). */
async function knownMetrics(ctx: TestContext): Promise<Set<string>> {
  const names = new Set<string>();
  for (const dir of ["src", "plugins"]) {
    for await (const file of new Glob("**/*.ts").scan(join(ROOT, dir))) {
      if (file.endsWith(".test.ts")) continue;
      const text = await Bun.file(join(ROOT, dir, file)).text();
      for (const m of text.matchAll(/name: "(aurora_[a-z0-9_]+)"/g)) names.add(m[1]!);
      for (const m of text.matchAll(/_METRIC = "(aurora_[a-z0-9_]+)"/g)) names.add(m[1]!);
    }
  }
  for (const metric of (await ctx.metrics.registry.getMetricsAsJSON())) names.add(metric.name);
  return names;
}

/** aurora_* series in PromQL, histogram suffixes folded back to the metric. */
const referenced = (exprs: string[]) =>
  new Set(exprs.flatMap((e) => [...e.matchAll(/\baurora_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))));

describe("docs/monitoring", () => {
  test("alert rules: one critical and one warning rule per row of the guide's table, on metrics the server exports", async () => {
    const doc = Bun.YAML.parse(await Bun.file(join(DOCS, "prometheus-alerts.yml")).text()) as {
      groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
    };
    const targets = doc.groups.find((g) => g.name === "aurora-targets")!.rules;
    const rows = ["RequestLatency", "DbQueryTime", "CacheHitRate", "ErrorRate", "DbConnections", "RedisMemory", "BlobStorageLatency"];
    for (const row of rows) {
      const severities = targets.filter((r) => r.alert.startsWith(`Aurora${row}`)).map((r) => r.labels.severity).toSorted();
      expect({ row, severities }).toEqual({ row, severities: ["critical", "warning"] });
    }
    const ctx = await testContext();
    try {
      const known = await knownMetrics(ctx);
      const exprs = doc.groups.flatMap((g) => g.rules.map((r) => r.expr));
      expect([...referenced(exprs)].filter((m) => !known.has(m))).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  test("Grafana dashboard: valid JSON whose every query names metrics the server exports", async () => {
    const dashboard = (await Bun.file(join(DOCS, "grafana-dashboard.json")).json()) as {
      uid: string;
      panels: { id: number; type: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe("aurora-pds");
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    const ctx = await testContext();
    try {
      const known = await knownMetrics(ctx);
      expect([...referenced(exprs)].filter((m) => !known.has(m))).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
