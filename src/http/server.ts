import type { AppContext } from "@/app-context";

/** Slack over the largest body we accept, for header and framing overhead. */
const BODY_SLACK_BYTES = 64 * 1024;

export interface RunningServer {
  readonly port: number;
  /**
   * Stop accepting, let in-flight requests finish for up to
   * `shutdownTimeoutMs`, then cut what is left. Resolves to whether every
   * request finished in time. Backends are closed by the caller.
   */
  shutdown(): Promise<boolean>;
}

export function listen(ctx: AppContext, port = ctx.config.service.port): RunningServer {
  const { service } = ctx.config;
  const server = Bun.serve({
    port,
    hostname: service.bind,
    maxRequestBodySize: Math.max(service.blobUploadLimit, service.maxJsonBodyBytes) + BODY_SLACK_BYTES,
    // The peer address feeds rate limiting by client IP (and decides whether forwarding headers are believed).
    fetch: (request, server) => {
      // subscribeRepos WebSocket upgrades go to the firehose, everything else to the app.
      const firehose = ctx.firehose.upgrade(request, server);
      if (firehose === "upgraded") return undefined;
      return firehose ?? ctx.handle(request, server.requestIP(request)?.address);
    },
    websocket: ctx.firehose.websocket,
  });
  return {
    port: server.port ?? port,
    async shutdown() {
      // Firehose subscribers never finish by themselves: tell them we are going away (1001) so they reconnect elsewhere.
      await ctx.firehose.close();
      const drained = await Promise.race([
        server.stop(false).then(() => true),
        Bun.sleep(service.shutdownTimeoutMs).then(() => false),
      ]);
      if (!drained) await server.stop(true);
      return drained;
    },
  };
}
