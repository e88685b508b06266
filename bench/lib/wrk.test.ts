import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { parseProfile } from "../workloads/write-profile";
import { parseWrk } from "./wrk";

const WRK_OUTPUT = `Running 2s test @ http://127.0.0.1:4000/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  41.50ms   90.00%
    Req/Sec     5.10k   300.00     6.00k    70.00%
  Latency Distribution
     50%    2.78ms
     75%    3.50ms
     90%  850.00us
     99%    1.20s
  20300 requests in 2.00s, 10.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 300
Requests/sec:  10150.00
Transfer/sec:      5.00MB
`;

test("parseWrk reads the latency distribution in every unit, and counts failures apart", () => {
  const r = parseWrk(WRK_OUTPUT, 0.5);
  expect(r.latencyMs).toEqual({ p50: 2.78, p90: 0.85, p99: 1200, max: 41.5, mean: 3.1 });
  expect(r.requests).toBe(20_000);
  expect(r.errors).toBe(303);
  expect(r.perSecond).toBe(10_000);
  expect(r.clientCpu).toBe(0.25);
  expect(r.firstError).toContain("300");
});

test("parseWrk refuses output without a summary", () => {
  expect(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused", 0)).toThrow(/no summary/);
});

test("parseProfile takes the duration and the self-time table of bun --cpu-prof-md", () => {
  const md = `# CPU Profile

| Duration | Samples | Interval | Functions |
|----------|---------|----------|----------|
| 2.5s | 2500 | 1.0ms | 900 |

## Hot Functions (Self Time)

| Self% | Self | Total% | Total | Function | Location |
|------:|-----:|-------:|------:|----------|----------|
| 11.7% | 438.0ms | 11.7% | 438.0ms | \`run\` | \`[native code]\` |
| 3.3% | 950us | 4.8% | 1.2s | \`mul\` | \`${resolve(import.meta.dir, "../..")}/node_modules/x.js:420\` |

## Call Tree (Total Time)

| Total% | Total | Self% | Self | Function | Location |
|-------:|------:|------:|-----:|----------|----------|
| 100.0% | 2.5s | 0.0% | 0us | \`(module)\` | \`/tmp/t.ts:2\` |
`;
  const p = parseProfile(md);
  expect(p.profiledMs).toBe(2500);
  expect(p.top).toEqual([
    { selfPercent: 11.7, selfMs: 438, totalPercent: 11.7, name: "run", location: "[native code]" },
    { selfPercent: 3.3, selfMs: 0.95, totalPercent: 4.8, name: "mul", location: "node_modules/x.js:420" },
  ]);
});
