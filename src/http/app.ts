import { Elysia } from "elysia";
import type { AppContext } from "@/app-context";
import { serviceDidDocument } from "@/identity/service-did";
import { VERSION } from "@/version";
import type { XrpcMethod } from "@/xrpc/method";
import { checkReadiness } from "./health";
import { errorResponse, json } from "./respond";
import { dispatch, unknownMethod } from "./xrpc";

const BANNER = `Aurora ${VERSION}: an AT Protocol Personal Data Server.

This server hosts atproto accounts and their data repositories.
API: /xrpc/{nsid} (see https://atproto.com/specs/xrpc).
`;

const ROBOTS = `# Aurora PDS: the public atproto API may be crawled.
User-agent: *
Allow: /
`;

/** Build the Elysia app: plain HTTP routes, then one route per XRPC method, then the fallbacks. */
export function createApp(ctx: AppContext, methods: Readonly<Record<string, XrpcMethod>>) {
  const app = new Elysia({ name: "aurora" })
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return json({ error: "NotFound", message: "Not Found" }, 404);
      return errorResponse(error, ctx.log);
    })
    .get("/", () => text(BANNER))
    .get("/robots.txt", () => text(ROBOTS))
    .get("/xrpc/_health", () => json({ version: VERSION }))
    .get("/health/live", () => json({ status: "ok" }))
    .get("/health/ready", async () => {
      const report = await checkReadiness(ctx);
      return json(report, report.status === "ok" ? 200 : 503);
    })
    .get("/metrics", async () => {
      const body = await ctx.metrics.registry.metrics();
      return new Response(body, { headers: { "content-type": ctx.metrics.registry.contentType } });
    })
    // Handle verification over HTTPS for hosted handles: the handle is the Host this request was sent to.
    .get("/.well-known/atproto-did", async ({ request }) => {
      // Bun builds request.url from the Host header.
      const host = new URL(request.url).hostname.toLowerCase();
      const ours = ctx.config.service.handleDomains.some((d) => host.endsWith(d));
      const account = ours ? await ctx.accounts.getAccount(host) : undefined;
      return account ? text(account.did) : text("User not found", 404);
    })
    .get("/.well-known/did.json", () => {
      const doc = serviceDidDocument(ctx.config.service);
      return doc ? json(doc) : json({ error: "NotFound", message: "Not Found" }, 404);
    });

  for (const [nsid, method] of Object.entries(methods)) {
    // parse: "none": the XRPC layer reads bodies itself, with a size limit and XRPC errors.
    const run = ({ request }: { request: Request }) => dispatch(ctx, nsid, method, request);
    app.get(`/xrpc/${nsid}`, run, { parse: "none" });
    app.post(`/xrpc/${nsid}`, run, { parse: "none" });
  }
  app.all("/xrpc/*", ({ request }) => unknownMethod(new URL(request.url).pathname.slice("/xrpc/".length)), {
    parse: "none",
  });
  return app;
}

function text(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
