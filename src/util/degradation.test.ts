import { expect, test } from "bun:test";
import { createLogger } from "@/log";
import { createDegradation } from "./degradation";

test("warns once per interval while down, counts the rest, logs the recovery once", () => {
  const lines: Record<string, unknown>[] = [];
  let clock = 1000;
  const d = createDegradation(createLogger("info", (l) => lines.push(JSON.parse(l))), {
    warnIntervalMs: 100,
    down: "thing down",
    restored: "thing back",
    now: () => clock,
  });
  d.succeeded();
  expect(lines).toEqual([]);
  for (const step of [0, 10, 50, 120]) {
    clock = 1000 + step;
    d.failed(new Error("boom"), { operation: "get" });
  }
  expect(d.degraded).toBe(true);
  expect(lines.map((l) => [l.msg, l.suppressedSinceLastWarning, l.operation, l.error])).toEqual([
    ["thing down", 0, "get", "boom"],
    ["thing down", 2, "get", "boom"],
  ]);
  clock = 1500;
  d.succeeded();
  d.succeeded();
  expect(lines.slice(2).map((l) => [l.msg, l.degradedForMs])).toEqual([["thing back", 500]]);
  expect(d.degraded).toBe(false);
});
