import { randomBytes } from "node:crypto";
import type { UserConfig } from "@/config/schema";
import type { TestContext } from "@test/support/context";

export interface Reply {
  status: number;
  body: any;
}

/** One XRPC call through ctx.handle: GET with `query`, POST with a JSON `body`. */
export async function xrpc(
  ctx: TestContext,
  nsid: string,
  init: { query?: string; body?: unknown; auth?: string; raw?: { type: string; data: Uint8Array } } = {},
): Promise<Reply> {
  const headers: Record<string, string> = init.auth ? { authorization: init.auth } : {};
  let body: string | Uint8Array | undefined;
  if (init.raw) {
    headers["content-type"] = init.raw.type;
    body = init.raw.data;
  } else if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  }
  const res = await ctx.request(`/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body,
  });
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, body: type.startsWith("application/json") ? await res.json() : new Uint8Array(await res.arrayBuffer()) };
}

export interface TestAccount {
  did: string;
  handle: string;
  password: string;
  accessJwt: string;
  refreshJwt: string;
  bearer: string;
}

/** A fresh account made through createAccount (the server must know a PLC directory). */
export async function newAccount(ctx: TestContext, prefix = "user"): Promise<TestAccount> {
  const handle = `${prefix}${randomBytes(4).toString("hex")}.test`;
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const res = await xrpc(ctx, "com.atproto.server.createAccount", { body: { handle, email: `${handle}@mail.test`, password } });
  if (res.status !== 200) throw new Error(`createAccount: ${res.status} ${JSON.stringify(res.body)}`);
  const { did, accessJwt, refreshJwt } = res.body;
  return { did, handle, password, accessJwt, refreshJwt, bearer: `Bearer ${accessJwt}` };
}

/** Server settings for these tests: no rate limits, open sign-up, the given PLC directory. */
export function serverConfig(plcUrl: string, extra: UserConfig = {}): UserConfig {
  return {
    ...extra,
    identity: { plcUrl },
    rateLimit: { enabled: false },
    service: { inviteRequired: false, ...extra.service },
  };
}

export const ADMIN = `Basic ${Buffer.from("admin:test-admin-password").toString("base64")}`;
