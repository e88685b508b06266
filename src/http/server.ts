import type { AppContext } from "@/app-context";
import type { SocketData } from "@/firehose/firehose";
import { UPGRADED } from "@/xrpc/upgraded";

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
    maxRequestBodySize: Math.max(service.blobUploadLimit, service.maxImportSize, service.maxJsonBodyBytes) + BODY_SLACK_BYTES,
    // Every request, WebSocket upgrades included, takes the one request path; the peer address feeds
    // limits by client IP. A request that became a WebSocket has nothing more to send.
    fetch: async (request, server) => {
      const response = await ctx.handle(request, server.requestIP(request)?.address, (data) =>
        server.upgrade(request, { data: data as SocketData }),
      );
      return response === UPGRADED ? undefined : response;
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
