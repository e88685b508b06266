import { expect, test } from "bun:test";
import { eventually } from "./eventually";

test("returns the first truthy value, retrying falsy answers and errors", async () => {
  let calls = 0;
  const value = await eventually(() => {
    calls++;
    if (calls === 1) throw new Error("not up yet");
    return calls >= 3 ? `after ${calls}` : false;
  }, { intervalMs: 1 });
  expect(value).toBe("after 3");
});

test("times out naming what it waited for and the last error", async () => {
  const failed = await eventually(() => {
    throw new Error("connection refused");
  }, { timeoutMs: 30, intervalMs: 5, what: "the server" }).catch((err: Error) => err.message);
  expect(failed).toBe("the server did not happen within 30 ms (last error: Error: connection refused)");
});
