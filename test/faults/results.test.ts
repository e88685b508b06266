import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInto } from "./render-table";
import { type FaultResult, formatErrors, readResults, recordResult } from "./results";

const entry = (id: string, over: Partial<FaultResult> = {}): FaultResult => ({
  id,
  fault: `fault ${id}`,
  injections: 2,
  durationSeconds: 10,
  requests: 100,
  errorsByStatus: { "503": 4, timeout: 1 },
  failures: 0,
  acknowledgedWrites: 50,
  lostWrites: 0,
  recoverySeconds: 0.25,
  firehose: { subscribers: 2, events: 100, gaps: 0, errors: 1 },
  checks: [{ name: "a", ok: true }, { name: "b", ok: true }],
  at: "2026-12-01T00:00:00.000Z",
  ...over,
});

test("results: an entry with the same id replaces the old one, others stay in order", () => {
  const dir = mkdtempSync(join(tmpdir(), "faults-results-"));
  try {
    const path = join(dir, "results.json");
    expect(readResults(path).results).toEqual([]);
    recordResult(entry("x"), path);
    recordResult(entry("y"), path);
    recordResult(entry("x", { requests: 7 }), path);
    const file = readResults(path);
    expect(file.results.map((r) => [r.id, r.requests])).toEqual([["y", 100], ["x", 7]]);
    expect(file.machine).toContain("cores");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("render: the table goes between the markers, failed checks and skipped faults are named", () => {
  const dir = mkdtempSync(join(tmpdir(), "faults-results-"));
  try {
    const path = join(dir, "results.json");
    recordResult(entry("ok"), path);
    recordResult(entry("bad", { checks: [{ name: "no lost write", ok: false, detail: "1 lost" }], recoverySeconds: null }), path);
    recordResult(entry("skip", { skipped: "needs root" }), path);
    const doc = renderInto("intro\n<!-- faults-table:start -->\nold\n<!-- faults-table:end -->\nafter\n", path);
    expect(doc.startsWith("intro\n<!-- faults-table:start -->\n| Fault |")).toBe(true);
    expect(doc.endsWith("<!-- faults-table:end -->\nafter\n")).toBe(true);
    expect(doc).not.toContain("\nold\n");
    expect(doc).toContain("| fault ok | 2 | 100 | 503×4, timeout×1 | 0 | 50 | 0 | 0 | 0.3 | all 2 hold |");
    expect(doc).toContain("| none | failed: no lost write |");
    expect(doc).toContain("not run: needs root");
    expect(() => renderInto("no markers", path)).toThrow("markers");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("errors by status: sorted, zero counts left out, none when empty", () => {
  expect(formatErrors({ timeout: 2, "502": 1, "503": 0 })).toBe("502×1, timeout×2");
  expect(formatErrors({})).toBe("none");
});
