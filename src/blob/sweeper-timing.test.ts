import { expect, test } from "bun:test";
import { TEMP_BLOB_TTL_MS, sweeperTiming } from "./sweeper";

test("sweeper timing: ten minutes and an hour unless AURORA_TEST_BLOB_SWEEP shortens both", () => {
  expect(sweeperTiming({})).toEqual({ intervalMs: 600_000, olderThanMs: TEMP_BLOB_TTL_MS });
  expect(sweeperTiming({ AURORA_TEST_BLOB_SWEEP: "2000:12000" })).toEqual({ intervalMs: 2000, olderThanMs: 12_000 });
});

test("sweeper timing: a malformed or too short AURORA_TEST_BLOB_SWEEP is refused with its value", () => {
  for (const bad of ["2000", "x:1000", "500:12000", "2000:999", "2000:1.5"]) {
    expect(() => sweeperTiming({ AURORA_TEST_BLOB_SWEEP: bad })).toThrow(JSON.stringify(bad));
  }
});
