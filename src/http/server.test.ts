import { expect, test } from "bun:test";
import { methods } from "@/xrpc";
import { query } from "@/xrpc/method";
import { testContext } from "@test/support/context";
import { listen } from "./server";

test("shutdown lets an in-flight request finish and then refuses new connections", async () => {
  let started!: () => void;
  const inFlight = new Promise<void>((resolve) => (started = resolve));
  const slow = query({
    handler: async () => {
      started();
      await Bun.sleep(300);
      return { done: true };
    },
  });
  const ctx = await testContext(
    { service: { bind: "127.0.0.1", shutdownTimeoutMs: 5000 } },
    { methods: { ...methods, "io.example.slow": slow } },
  );
  const server = listen(ctx, 0);
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const pending = fetch(`${base}/xrpc/io.example.slow`);
    await inFlight;
    const stopping = server.shutdown();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    expect(await stopping).toBe(true);
    await expect(fetch(`${base}/xrpc/_health`)).rejects.toThrow();
  } finally {
    await ctx.close();
  }
});

test("shutdown is bounded: a request that outlives the timeout is cut", async () => {
  const hang = query({ handler: () => Bun.sleep(5000).then(() => ({})) });
  const ctx = await testContext(
    { service: { bind: "127.0.0.1", shutdownTimeoutMs: 200 } },
    { methods: { ...methods, "io.example.hang": hang } },
  );
  const server = listen(ctx, 0);
  try {
    const pending = fetch(`http://127.0.0.1:${server.port}/xrpc/io.example.hang`).catch((err: Error) => err);
    await Bun.sleep(50);
    const started = performance.now();
    expect(await server.shutdown()).toBe(false);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await pending).toBeInstanceOf(Error);
  } finally {
    await ctx.close();
  }
});
