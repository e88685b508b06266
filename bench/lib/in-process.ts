import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppContext } from "@/app-context";
import { resolveConfig, type RunConfig } from "@/config/resolve";
import { createContext } from "@/context";
import { createLogger } from "@/log";
import { postgres } from "@plugins/db-postgres";
import { startPlc } from "@test/support/plc";

/** An XRPC procedure called through the whole request path of a context in this process (no socket). */
export type InProcessCall = (nsid: string, body: unknown, token?: string) => Promise<Record<string, string>>;

export function inProcessCaller(ctx: Pick<AppContext, "handle">): InProcessCall {
  return async (nsid, body, token) => {
    const res = await ctx.handle(
      new Request(`http://localhost/xrpc/${nsid}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      }),
    );
    if (res.status !== 200) throw new Error(`${nsid}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, string>;
  };
}

/** `count` accounts `<prefix><i>.test`, each with its DID and access token. */
export async function createAccounts(call: InProcessCall, prefix: string, count: number): Promise<{ did: string; token: string }[]> {
  const accounts: { did: string; token: string }[] = [];
  for (let i = 0; i < count; i++) {
    const a = await call("com.atproto.server.createAccount", { handle: `${prefix}${i}.test`, email: `${prefix}${i}@example.com`, password: `${prefix}-pass` });
    accounts.push({ did: a.did!, token: a.accessJwt! });
  }
  return accounts;
}

/**
 * A real server context for the in-process profilers: SQLite + disk in a temporary directory (or
 * PostgreSQL with DATABASE_URL), an in-memory PLC, no rate limits, warn-level logs, listening on a
 * free loopback port when asked to (`listen(ctx, 0)`). `close()` stops it and removes the directory.
 */
export async function profiledContext(): Promise<{ ctx: AppContext; dir: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "aurora-profile-"));
  const plc = await startPlc();
  const config = resolveConfig({
    dataDir: dir,
    ...(process.env.DATABASE_URL ? { db: postgres({ url: process.env.DATABASE_URL, maxConnections: 20 }) } : {}),
    service: { inviteRequired: false, port: 0, bind: "127.0.0.1" },
    identity: { plcUrl: plc.url },
    rateLimit: { enabled: false },
    secrets: { jwtSecret: "profile-jwt-secret-0123456789", adminPassword: "profile-admin", plcRotationKeyHex: "7".repeat(64) },
  }) as RunConfig;
  const ctx = await createContext(config, { log: createLogger("warn") });
  return {
    ctx,
    dir,
    async close() {
      await ctx.close();
      await plc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
