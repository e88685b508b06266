import { expect, test } from "bun:test";
import { inBatches } from "./in-batches";

test.each([
  [0, 3, []],
  [2, 3, [[0, 1]]],
  [3, 3, [[0, 1, 2]]],
  [7, 3, [[0, 1, 2], [3, 4, 5], [6]]],
])("%i items in chunks of %i", async (count, size, chunks) => {
  const seen: number[][] = [];
  const results = await inBatches(Array.from({ length: count }, (_, i) => i), async (chunk) => (seen.push(chunk), chunk.length), size);
  expect(seen).toEqual(chunks);
  expect(results).toEqual(chunks.map((c) => c.length));
});

test("chunks run one after another", async () => {
  let running = 0;
  let most = 0;
  await inBatches([1, 2, 3, 4], async () => {
    most = Math.max(most, ++running);
    await Bun.sleep(1);
    running--;
  }, 1);
  expect(most).toBe(1);
});
