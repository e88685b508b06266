/** requestAccountDelete's limits (src/rate-limit/rules.ts), through the request path with rate limiting on. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { newAccount } from "./support";


describe("requestAccountDelete rate limits", () => {
  let plc: TestPlc;
  let ctx: TestContext;
  beforeAll(async () => {
    plc = await startPlc();
    ctx = await testContext({ identity: { plcUrl: plc.url }, service: { inviteRequired: false, devMode: true } });
  });
  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
  });

  test("5 an hour per account, 15 an hour per client IP", async () => {
    const request = (bearer: string) =>
      ctx.handle(new Request("http://localhost/xrpc/com.atproto.server.requestAccountDelete", { method: "POST", headers: { authorization: bearer } }), "203.0.113.9").then((r) => r.status);
    const [a, b, c] = [await newAccount(ctx, "rla"), await newAccount(ctx, "rlb"), await newAccount(ctx, "rlc")];
    const statuses = async (bearer: string, times: number) => {
      const out: number[] = [];
      for (let i = 0; i < times; i++) out.push(await request(bearer));
      return out;
    };
    expect(await statuses(a.bearer, 6)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await statuses(b.bearer, 5)).toEqual([200, 200, 200, 200, 200]);
    // By then the address has spent its 15 (a's refused 6th counted there too): c's 5th is refused with 1 of its own left.
    expect(await statuses(c.bearer, 5)).toEqual([200, 200, 200, 200, 429]);
  });
});
