import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { PluginError } from "@/errors";
import { methods } from "@/xrpc";
import { procedure, query } from "@/xrpc/method";
import { type TestContext, testContext } from "@test/support/context";

// Methods that exist only to drive every branch of the XRPC layer through the real HTTP stack.
const testMethods = {
  ...methods,
  "io.example.echo": procedure({
    input: Type.Object({ text: Type.String(), n: Type.Optional(Type.Integer()) }),
    handler: ({ input }) => ({ echoed: input.text, n: input.n ?? null }),
  }),
  "io.example.params": query({
    params: Type.Object({
      limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
      reverse: Type.Optional(Type.Boolean()),
      tags: Type.Optional(Type.Array(Type.String())),
    }),
    handler: ({ params }) => params,
  }),
  "io.example.noOutput": procedure({ handler: () => undefined }),
  "io.example.crash": query({
    handler: () => {
      throw new Error("secret internal detail at /srv/aurora/db.ts:42");
    },
  }),
  "io.example.backendDown": query({
    handler: () => {
      throw new PluginError("db-postgres", "connection refused", { unavailable: true });
    },
  }),
};

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext({}, { methods: testMethods });
});
afterAll(() => ctx.close());

const post = (nsid: string, body: string | null, headers: Record<string, string> = { "content-type": "application/json" }) =>
  ctx.request(`/xrpc/${nsid}`, { method: "POST", body, headers });

describe("XRPC errors", () => {
  test.each([
    ["unknown NSID (GET)", () => ctx.request("/xrpc/com.example.nothing"), 501, "MethodNotImplemented"],
    ["unknown NSID (POST)", () => post("com.example.nothing", "{}"), 501, "MethodNotImplemented"],
    ["malformed JSON", () => post("io.example.echo", "{not json"), 400, "InvalidRequest"],
    ["JSON not matching the input schema", () => post("io.example.echo", JSON.stringify({ text: 5 })), 400, "InvalidRequest"],
    ["missing Content-Type", () => post("io.example.echo", "{}", {}), 400, "InvalidRequest"],
    ["wrong Content-Type", () => post("io.example.echo", "{}", { "content-type": "text/plain" }), 400, "InvalidRequest"],
    ["JSON body over 150 KB (Content-Length)", () => post("io.example.echo", JSON.stringify({ text: "x".repeat(160 * 1024) })), 413, "PayloadTooLarge"],
    ["GET on a procedure", () => ctx.request("/xrpc/io.example.echo"), 400, "InvalidRequest"],
    ["POST on a query", () => post("io.example.params", "{}"), 400, "InvalidRequest"],
    ["param of the wrong type", () => ctx.request("/xrpc/io.example.params?limit=many"), 400, "InvalidRequest"],
    ["param out of range", () => ctx.request("/xrpc/io.example.params?limit=500"), 400, "InvalidRequest"],
    ["handler crash", () => ctx.request("/xrpc/io.example.crash"), 500, "InternalServerError"],
    ["backend unavailable", () => ctx.request("/xrpc/io.example.backendDown"), 503, "ServiceUnavailable"],
  ])("%s → %d %s", async (_, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe(error);
    expect(body.message).toBeString();
  });

  test("a streamed body over the limit is cut off with 413 without a Content-Length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await ctx.handle(
      new Request("http://localhost/xrpc/io.example.echo", { method: "POST", body, headers: { "content-type": "application/json" } }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toBe("PayloadTooLarge");
  });

  test("a 500 never leaks the error's message or stack; the log keeps it", async () => {
    const res = await ctx.request("/xrpc/io.example.crash");
    const text = await res.text();
    expect(text).not.toContain("secret internal detail");
    expect(text).not.toContain("db.ts");
    const logged = ctx.logs.find((l) => l.msg === "unhandled error") as { err: { message: string } } | undefined;
    expect(logged?.err.message).toContain("secret internal detail");
  });
});

describe("XRPC success paths", () => {
  test("a procedure gets its validated JSON input", async () => {
    const res = await post("io.example.echo", JSON.stringify({ text: "hi", n: 3 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ echoed: "hi", n: 3 });
  });

  test("query params are converted, defaulted and repeated keys become arrays", async () => {
    const res = await ctx.request("/xrpc/io.example.params?reverse=true&tags=a&tags=b");
    expect(await res.json()).toEqual({ limit: 50, reverse: true, tags: ["a", "b"] });
  });

  test("a procedure without output answers an empty 200", async () => {
    const res = await post("io.example.noOutput", null, {});
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });
});
