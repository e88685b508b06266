/**
 * What an OAuth (DPoP) access token costs the server per request, beside a
 * password-session Bearer token: N getSession calls through the one request
 * path in process (no socket), proofs signed ahead of time so only the
 * server's work is timed. Run: bun bench/oauth-verify.ts [N]
 */
import { startPlc } from "@test/support/plc";
import { testContext } from "@test/support/context";
import { newAccount, serverConfig } from "@test/xrpc/support";
import { TestOAuthClient, ath, dpopKey, proof } from "@test/oauth/kit";

const n = Number(process.argv[2] ?? 2000);
const plc = await startPlc();
const ctx = await testContext({ ...serverConfig(plc.url), log: { level: "warn" } });
try {
  const alice = await newAccount(ctx, "bench");
  const client = new TestOAuthClient((r) => ctx.handle(r), "http://localhost", ctx.config.service.publicUrl, await dpopKey());
  const { access } = await client.login(alice.handle, alice.password);
  const htu = `${ctx.config.service.publicUrl}/xrpc/com.atproto.server.getSession`;
  const call = (authorization: string, dpop?: string) =>
    ctx.handle(new Request("http://localhost/xrpc/com.atproto.server.getSession", { headers: { authorization, ...(dpop ? { dpop } : {}) } }));

  const time = async (label: string, run: (i: number) => Promise<Response>) => {
    for (let i = 0; i < 50; i++) await (await run(n + i)).arrayBuffer();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const res = await run(i);
      if (res.status !== 200) throw new Error(`${label}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    const ms = (performance.now() - t0) / n;
    console.log(`${label}: ${ms.toFixed(3)} ms per request (${n} requests)`);
    return ms;
  };
  const bearer = await time("password session (Bearer)", () => call(alice.bearer));
  const proofs: string[] = [];
  for (let i = 0; i < n + 50; i++) proofs.push(await proof(client.key, "GET", htu, { nonce: ctx.oauth.dpop.nonce(), ath: ath(access) }));
  const oauth = await time("OAuth access token (DPoP)", (i) => call(`DPoP ${access}`, proofs[i]!));
  console.log(`DPoP costs ${(oauth - bearer).toFixed(3)} ms more per request`);
} finally {
  await ctx.close();
  await plc.stop();
}
