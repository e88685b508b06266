import { isValidNsid } from "@atproto/syntax";
import { Registry } from "prom-client";
import type { AppContext } from "@/app-context";
import type { UserConfig } from "@/config/schema";
import { errorResponse } from "@/http/respond";
import { pathOf } from "@/http/router";
import { type ProxyDeps, createProxy } from "@/proxy";
import type { Proxy } from "@/proxy/types";
import { methods } from "@/xrpc";
import { type TestAppView, startTestAppView } from "@test/support/appview";
import { type TestContext, testContext } from "@test/support/context";
import { startPlc } from "@test/support/plc";
import { type TestAccount, newAccount } from "@test/xrpc/support";

/** Server settings: open sign-up, no rate limits, private addresses (the test services), every proxied service at `appview`. */
export function proxyConfig(plcUrl: string, appview: TestAppView, extra: UserConfig = {}): UserConfig {
  const service = { url: appview.url, did: appview.did };
  return {
    identity: { plcUrl, allowPrivateAddresses: true },
    rateLimit: { enabled: false },
    service: { inviteRequired: false },
    appView: service,
    chat: service,
    reportService: service,
    proxy: { headersTimeoutMs: 2000, timeoutMs: 10_000, maxResponseBytes: 32 * 1024 * 1024 },
    ...extra,
  };
}

/** A proxy over a test context; one with its config changed (timeouts, targets) counts in a registry of its own. */
export function proxyFor(ctx: TestContext, config?: Partial<AppContext["config"]>): Proxy {
  const metrics = config ? { ...ctx.metrics, registry: new Registry() } : ctx.metrics;
  const deps: ProxyDeps = { ...ctx, metrics, config: { ...ctx.config, ...config }, app: () => ctx };
  return createProxy(deps);
}

/**
 * The server's request path, but with `proxy` (one built with other settings by
 * `proxyFor`) deciding and serving what goes upstream: for the tests of a
 * timeout or a cap without building a second server.
 */
export function withProxy(ctx: TestContext, proxy: Proxy): AppContext["handle"] {
  return async (request, peer, upgrade) => {
    const path = pathOf(request.url);
    const nsid = path.startsWith("/xrpc/") ? path.slice("/xrpc/".length) : "";
    if (isValidNsid(nsid) && proxy.wants(nsid, request, nsid in methods)) {
      try {
        return await proxy.serve(request, nsid);
      } catch (err) {
        return errorResponse(err, ctx.log);
      }
    }
    return ctx.handle(request, peer, upgrade);
  };
}

export interface ProxyFixture {
  readonly appview: TestAppView;
  readonly ctx: TestContext;
  readonly proxy: Proxy;
  /** The server's request path (ctx.handle). */
  readonly handle: AppContext["handle"];
  /** An account of the server, signed in. */
  readonly alice: TestAccount;
  /** The last call the test AppView received for `nsid`. */
  last(nsid: string): TestAppView["received"][number];
  stop(): Promise<void>;
}

/** A PLC directory, the test AppView, an Aurora proxying to it (SQLite) and one account. */
export async function startProxyFixture(): Promise<ProxyFixture> {
  const plc = await startPlc();
  const appview = await startTestAppView({ plcUrl: plc.url });
  const ctx = await testContext(proxyConfig(plc.url, appview));
  return {
    appview,
    ctx,
    proxy: ctx.proxy,
    handle: ctx.handle,
    alice: await newAccount(ctx, "alice"),
    last: (nsid) => appview.calls(nsid).at(-1)!,
    async stop() {
      await ctx.close();
      await appview.stop();
      await plc.stop();
    },
  };
}

export interface CallInit {
  method?: "GET" | "POST" | "PUT";
  query?: string;
  body?: unknown;
  auth?: string;
  headers?: Record<string, string>;
}

/** One call through `handle`: status, headers and the parsed JSON body (or the text). */
export async function call(handle: AppContext["handle"], nsid: string, init: CallInit = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth) headers.authorization = init.auth;
  if (init.body !== undefined) headers["content-type"] ??= "application/json";
  const res = await handle(
    new Request(`http://localhost/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
    }),
  );
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}
