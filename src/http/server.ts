import type { AppContext } from "@/context";

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
    fetch: ctx.handle,
  });
  return {
    port: server.port ?? port,
    async shutdown() {
      const drained = await Promise.race([
        server.stop(false).then(() => true),
        Bun.sleep(service.shutdownTimeoutMs).then(() => false),
      ]);
      if (!drained) await server.stop(true);
      return drained;
    },
  };
}
