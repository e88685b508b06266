import type { AppContext } from "@/app-context";
import { createAdminUi } from "@/admin/ui";
import { serviceDidDocument } from "@/identity/service-did";
import { VERSION } from "@/version";
import type { XrpcMethod } from "@/xrpc/method";
import { checkReadiness } from "./health";
import { createMetricsAccess } from "./metrics-access";
import { json } from "./respond";
import { type PlainRoute, type Router, createRouter } from "./router";

const BANNER = `Aurora ${VERSION}: an AT Protocol Personal Data Server.

This server hosts atproto accounts and their data repositories.
API: /xrpc/{nsid} (see https://atproto.com/specs/xrpc).
`;

const ROBOTS = `# Aurora PDS: the public atproto API may be crawled.
User-agent: *
Allow: /
`;

/** Every route the server answers: the plain HTTP routes by exact path, and one per XRPC method of the route table. */
export function createRoutes(ctx: AppContext, methods: Readonly<Record<string, XrpcMethod>>): Router {
  const metricsAccess = createMetricsAccess(ctx.config.metrics);
  const plain: Record<string, PlainRoute> = {
    // OAuth: metadata, PAR, the sign-in pages, token and revocation (src/oauth/).
    ...ctx.oauth.routes,
    // The admin web page (src/admin/ui.ts): only when config admin.ui / PDS_ADMIN_UI turns it on, else /admin is 404.
    ...(ctx.config.admin.ui ? createAdminUi(ctx) : {}),
    "/": { handler: () => text(BANNER) },
    "/robots.txt": { handler: () => text(ROBOTS), exempt: true },
    "/xrpc/_health": { handler: () => json({ version: VERSION }), exempt: true },
    "/health/live": { handler: () => json({ status: "ok" }), exempt: true },
    "/health/ready": {
      exempt: true,
      handler: async () => {
        const report = await checkReadiness(ctx);
        return json(report, report.status === "ok" ? 200 : 503);
      },
    },
    "/metrics": {
      exempt: true,
      handler: async (request, ip) => {
        const denied = metricsAccess(request, ip);
        if (denied) return denied;
        const body = await ctx.metrics.registry.metrics();
        return new Response(body, { headers: { "content-type": ctx.metrics.registry.contentType } });
      },
    },
    // Handle verification over HTTPS for hosted handles: the handle is the Host this request was sent to.
    "/.well-known/atproto-did": {
      handler: async (request) => {
        // Bun builds request.url from the Host header.
        const host = new URL(request.url).hostname.toLowerCase();
        const ours = ctx.config.service.handleDomains.some((d) => host.endsWith(d));
        const account = ours ? await ctx.accounts.getAccount(host) : undefined;
        return account ? text(account.did) : text("User not found", 404);
      },
    },
    "/.well-known/did.json": {
      handler: () => {
        const doc = serviceDidDocument(ctx.config.service);
        return doc ? json(doc) : json({ error: "NotFound", message: "Not Found" }, 404);
      },
    },
  };
  return createRouter(plain, methods);
}

function text(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
