import { expect, test } from "bun:test";
import { RepoWriteQueue } from "./write-queue";

test("one writer per repository at a time, the waiting ones in arrival order; other repositories do not wait", async () => {
  const queue = new RepoWriteQueue(4);
  const order: string[] = [];
  let release!: () => void;
  const first = queue.run("did:a", () => new Promise<void>((resolve) => (release = resolve)).then(() => order.push("a0")));
  const rest = [1, 2, 3].map((i) => queue.run("did:a", async () => order.push(`a${i}`)));
  await queue.run("did:b", async () => order.push("b"));
  expect(queue.waiting("did:a")).toBe(3);
  release();
  await Promise.all([first, ...rest]);
  expect(order).toEqual(["b", "a0", "a1", "a2", "a3"]);
  expect(queue.waiting("did:a")).toBe(0);
});

test("past the bound a writer is refused at once with 429; a failed writer still hands over", async () => {
  const queue = new RepoWriteQueue(1);
  let release!: () => void;
  const running = queue.run("did:a", () => new Promise<void>((_, reject) => (release = () => reject(new Error("boom")))));
  const waiting = queue.run("did:a", async () => "ran");
  await expect(queue.run("did:a", async () => "never")).rejects.toMatchObject({ status: 429, error: "RateLimitExceeded" });
  release();
  await expect(running).rejects.toThrow("boom");
  expect(await waiting).toBe("ran");
  expect(await queue.run("did:a", async () => "free again")).toBe("free again");
});
