import { expect, test } from "bun:test";
import { TID } from "@atproto/common-web";
import { isValidTid } from "@atproto/syntax";
import { nextTid } from "./tid";

/** The clock identifier in a TID this process makes. */
const tidClockId = () => TID.fromStr(nextTid()).clockid();

test("TIDs are valid, strictly increasing, carry this process's clock identifier and the time in microseconds", () => {
  const before = Date.now() * 1000;
  const tids = Array.from({ length: 20_000 }, () => nextTid());
  const after = Date.now() * 1000;
  for (const tid of tids) expect(isValidTid(tid)).toBe(true);
  for (let i = 1; i < tids.length; i++) expect(tids[i]! > tids[i - 1]!).toBe(true);
  const parsed = tids.map((t) => TID.fromStr(t));
  expect(new Set(parsed.map((t) => t.clockid()))).toEqual(new Set([tidClockId()]));
  expect(tidClockId()).toBeGreaterThanOrEqual(0);
  expect(tidClockId()).toBeLessThan(1024);
  // Microseconds of the wall clock (within the clock's drift since start), not milliseconds and a counter.
  expect(parsed[0]!.timestamp()).toBeGreaterThan(before - 1_000_000);
  expect(parsed.at(-1)!.timestamp()).toBeLessThan(after + 1_000_000);
});

test("processes draw their clock identifiers from all 1024 values", async () => {
  const ids = new Set<number>();
  for (let i = 0; i < 12; i++) {
    const out = Bun.spawnSync([process.execPath, "-e", `import { TID } from "@atproto/common-web"; import { nextTid } from "${import.meta.dir}/tid"; console.log(TID.fromStr(nextTid()).clockid())`]);
    ids.add(Number(out.stdout.toString().trim()));
  }
  // Twelve draws from 32 values would show at most 32; from 1024, some value above 31 almost surely (1 - (32/1024)^12).
  expect([...ids].some((id) => id >= 32)).toBe(true);
});
