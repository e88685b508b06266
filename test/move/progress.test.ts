/** The mover's progress reports: plain lines without a terminal, a bar redrawn in place on one. */
import { describe, expect, test } from "bun:test";
import { createProgress } from "@/move/progress";

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { out: { isTTY, write: (s: string) => writes.push(s) }, writes };
}

describe("move progress", () => {
  test("without a terminal: a start line with the total, a done line with count and rate, no step line for a quick stage", () => {
    const { out, writes } = sink(false);
    const stage = createProgress(out).stage("record", 3000, "rows");
    stage.advance(1000);
    stage.advance(2000);
    stage.done();
    expect(writes).toHaveLength(2);
    expect(writes[0]).toBe("[move] record: start, 3000 rows\n");
    expect(writes[1]).toMatch(/^\[move\] record: done, 3000 rows in \d+\.\ds, \d+ rows\/s\n$/);
  });

  test("without a terminal: step lines for a stage that runs longer than a second", async () => {
    const { out, writes } = sink(false);
    const stage = createProgress(out).stage("blob bytes", 4 * 1024 * 1024, "bytes");
    await Bun.sleep(1100);
    stage.advance(1024 * 1024);
    stage.done();
    expect(writes[0]).toBe("[move] blob bytes: start, 4.0 MiB\n");
    expect(writes[1]).toMatch(/^\[move\] blob bytes: 1\.0 MiB\/4\.0 MiB 25%, [\d.]+ KiB\/s ETA \d+\.\ds\n$/);
    expect(writes[2]).toMatch(/^\[move\] blob bytes: done, 1\.0 MiB in 1\.\ds/);
  });

  test("on a terminal: one bar redrawn in place with percentage, rate and ETA, then a done line", () => {
    const { out, writes } = sink(true);
    const stage = createProgress(out).stage("repo_block", 200, "rows");
    stage.advance(50);
    stage.done();
    expect(writes[0]).toMatch(/^\r\x1b\[2K\[move\] repo_block: \[\.{24}\] 0\/200 rows 0% 0 rows\/s$/);
    expect(writes.at(-1)).toMatch(/^\r\x1b\[2K\[move\] repo_block: done, 50 rows in \d+\.\ds/);
    expect(writes.join("")).not.toContain("start");
  });
});
