import { AtpAgent, XRPCError } from "@atproto/api";
import { SignJWT } from "jose";
import type { UserConfig } from "@/config/schema";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { ContextOverrides } from "@/context";
import { listen } from "@/http/server";
import { type TestContext, testContext } from "@test/support/context";
import { freePort } from "@test/support/services";

export const JWT_SECRET = "e2e-jwt-secret-0123456789";
export const ADMIN_PASSWORD = "e2e-admin-password";

export interface Node {
  ctx: TestContext;
  url: string;
  agent(): AtpAgent;
  /** A raw XRPC call: status and parsed JSON body. */
  call(nsid: string, init?: { method?: "GET" | "POST"; body?: unknown; auth?: string; query?: string }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * A real listening Aurora on a loopback port chosen up front, so its public
 * URL (what the DID documents name and clients follow) is the one it serves.
 */
export async function startNode(opts: { plcUrl: string; db: DatabasePlugin; cache?: CachePlugin; config?: UserConfig; port?: number; methods?: ContextOverrides["methods"] }): Promise<Node> {
  const port = opts.port ?? (await freePort());
  const url = `http://localhost:${port}`;
  const ctx = await testContext(
    {
      log: { level: "warn" },
      identity: { plcUrl: opts.plcUrl },
      rateLimit: { enabled: false },
      secrets: { jwtSecret: JWT_SECRET, adminPassword: ADMIN_PASSWORD, plcRotationKeyHex: "5".repeat(64) },
      ...opts.config,
      // Merged, not replaced: the port and public URL must stay the ones this node listens on.
      service: { inviteRequired: true, ...opts.config?.service, hostname: "localhost", port, publicUrl: url, bind: "127.0.0.1", devMode: true },
    },
    { db: opts.db, ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.methods ? { methods: opts.methods } : {}) },
  );
  const server = listen(ctx, port);
  return {
    ctx,
    url,
    agent: () => new AtpAgent({ service: url }),
    async call(nsid, init = {}) {
      const res = await fetch(`${url}/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: {
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...(init.auth ? { authorization: init.auth } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      await server.shutdown();
      await ctx.close();
    },
  };
}

/** The status and error name an XRPC call failed with (fails the test if it succeeded). */
export async function failure(promise: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof XRPCError) return { status: err.status, error: err.error };
    throw err;
  }
  throw new Error("expected the call to fail");
}

export const bearer = (token: string) => `Bearer ${token}`;
export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** An access token as Aurora would sign it, with chosen claims (expired ones, forged ones). */
export async function accessToken(opts: { did: string; sid: string; aud: string; expSecondsFromNow: number; secret?: string; scope?: string }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: opts.scope ?? "com.atproto.access", sid: opts.sid })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setSubject(opts.did)
    .setAudience(opts.aud)
    .setIssuedAt(now - 7200)
    .setExpirationTime(now + opts.expSecondsFromNow)
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

/** The claims of a JWT, unverified (tests read their own tokens). */
export function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8"));
}

/** What the PLC directory's `/data` endpoint says about a DID. */
export interface PlcData {
  rotationKeys: string[];
  verificationMethods: Record<string, string>;
  alsoKnownAs: string[];
  services: Record<string, { type: string; endpoint: string }>;
}

export async function plcData(plcUrl: string, did: string): Promise<PlcData> {
  return (await (await fetch(`${plcUrl}/${did}/data`)).json()) as PlcData;
}

export async function plcDocument(plcUrl: string, did: string): Promise<{ service: unknown[] }> {
  return (await (await fetch(`${plcUrl}/${did}`)).json()) as { service: unknown[] };
}
