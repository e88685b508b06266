import { describe, expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { LabelledCounter, LabelledHistogram } from "./labelled-metrics";

const labelNames = ["method", "route", "status"] as const;
const buckets = [0.001, 0.005, 0.01, 0.1, 1];

/** The same metrics twice: prom-client's and ours, each on a registry of its own. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const options = { name: "t_requests_total", help: "Requests, by method, route and status", labelNames };
  const hOptions = { name: "t_duration_seconds", help: "Durations \\ with a backslash", labelNames, buckets };
  return {
    theirs,
    ours,
    counters: [new Counter({ ...options, registers: [theirs] }), new LabelledCounter(ours, options)] as const,
    histograms: [new Histogram({ ...hOptions, registers: [theirs] }), new LabelledHistogram(ours, hOptions)] as const,
  };
}

/** prom-client's JSON carries `exemplar: null` on histogram values and `sharedLabels: {}` nowhere we read. */
const normalised = (json: unknown) => JSON.parse(JSON.stringify(json, (k, v) => (k === "exemplar" ? undefined : v)));

describe("LabelledCounter and LabelledHistogram", () => {
  test("scrape to the same text and JSON as prom-client's, for the same observations", async () => {
    const { theirs, ours, counters, histograms } = pair();
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const routes = ["com.atproto.repo.getRecord", "/xrpc/*", 'odd "route"\nwith\\escapes'];
    for (let i = 0; i < 2000; i++) {
      const labels = { method: random() < 0.7 ? "GET" : "POST", route: routes[Math.floor(random() * routes.length)]!, status: random() < 0.9 ? "200" : "500" };
      // Values on the bounds, between them and above the last one.
      const value = [0.001, 0.0049, 0.01, 0.5, 3, random() / 10][i % 6]!;
      for (const c of counters) c.inc(labels, i % 3);
      for (const h of histograms) h.observe(labels, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(normalised(await ours.getMetricsAsJSON())).toEqual(normalised(await theirs.getMetricsAsJSON()));
    // The series are found again whatever order the labels object lists them in.
    for (const c of counters) c.inc({ status: "200", route: "/xrpc/*", method: "GET" });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  test("reset empties both like prom-client's; a series seen again starts from zero", async () => {
    const { theirs, ours, counters, histograms } = pair();
    const labels = { method: "GET", route: "r", status: "200" };
    for (const c of counters) c.inc(labels, 5);
    for (const h of histograms) h.observe(labels, 0.002);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const c of counters) c.inc(labels);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('t_requests_total{method="GET",route="r",status="200"} 1');
  });

  test("refuse labels other than their names, negative increments and values that are not numbers", () => {
    const { counters, histograms } = pair();
    const [, counter] = counters;
    const [, histogram] = histograms;
    expect(() => counter.inc({ method: "GET", route: "r" } as never)).toThrow(TypeError);
    expect(() => counter.inc({ method: "GET", route: "r", status: "200", extra: "x" } as never)).toThrow(TypeError);
    expect(() => counter.inc({ method: "GET", route: "r", status: 200 } as never)).toThrow(TypeError);
    expect(() => counter.inc({ method: "GET", route: "r", status: "200" }, -1)).toThrow(TypeError);
    expect(() => histogram.observe({ method: "GET", route: "r", status: "200" }, Number.NaN)).toThrow(TypeError);
    expect(() => histogram.observe({ method: "GET", route: "r", status: "200" }, Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });

  test("a registry refuses a second metric of the same name, as for prom-client's", () => {
    const registry = new Registry();
    new LabelledCounter(registry, { name: "dup_total", help: "h", labelNames: ["a"] });
    expect(() => new Counter({ name: "dup_total", help: "h", registers: [registry] })).toThrow();
    expect(registry.getSingleMetric("dup_total")).toBeInstanceOf(LabelledCounter);
  });
});
