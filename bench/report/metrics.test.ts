import { expect, test } from "bun:test";
import type { TargetResult } from "../suite";
import { goalsFor, goalText, judge, METRICS } from "./metrics";

const metric = (label: string) => METRICS.find((m) => m.label === label)!;
const target = (name: string, perSecond: number, p99: number, cpu: number) =>
  ({ name, createRecord: { perSecond, latencyMs: { p50: 1, p90: 1, p99, max: 1, mean: 1 }, serverCpuMsPerRequest: cpu } }) as unknown as TargetResult;

test("createRecord throughput has a goal per backend: 10× on SQLite, 6× on PostgreSQL", () => {
  const throughput = metric("createRecord throughput");
  const reference = target("reference", 100, 200, 10);
  const sqlite = target("aurora-sqlite", 800, 100, 0.6);
  const pg = target("aurora-pg", 800, 100, 0.6);
  expect(goalsFor(throughput, "aurora-sqlite").map((g) => goalText(throughput, g))).toEqual(["≥ 10× reference (aurora-sqlite)"]);
  expect(judge(throughput, goalsFor(throughput, "aurora-sqlite")[0]!, sqlite, reference, undefined)).toEqual({ figure: 8, met: false });
  expect(judge(throughput, goalsFor(throughput, "aurora-pg")[0]!, pg, reference, undefined)).toEqual({ figure: 8, met: true });
  expect(judge(throughput, goalsFor(throughput, "aurora-pg")[0]!, pg, undefined, undefined)).toBeUndefined();
});

test("absolute and previous-run goals judge Aurora's own figure", () => {
  const cpu = metric("createRecord server CPU");
  const p99 = metric("createRecord p99");
  const sqlite = target("aurora-sqlite", 800, 150, 0.6);
  expect(judge(cpu, goalsFor(cpu, "aurora-sqlite")[0]!, sqlite, undefined, undefined)).toEqual({ figure: 0.6, met: true });
  expect(goalsFor(cpu, "aurora-pg")).toEqual([]);
  expect(judge(p99, goalsFor(p99, "aurora-sqlite")[0]!, sqlite, undefined, 100)).toEqual({ figure: 1.5, met: false });
  expect(judge(p99, goalsFor(p99, "aurora-sqlite")[0]!, sqlite, undefined, undefined)).toBeUndefined();
});
