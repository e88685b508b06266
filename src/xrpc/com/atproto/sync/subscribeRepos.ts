import { Type } from "@sinclair/typebox";
import { subscription } from "@/xrpc/method";

/**
 * The firehose: the request comes through the one request path (routing,
 * rate limits, params, logs, metrics) like any other, and the firehose
 * checks its caps before it upgrades the socket (src/firehose).
 */
export default subscription({
  params: Type.Object({ cursor: Type.Optional(Type.Integer({ minimum: 0 })) }),
  handler: ({ ctx, params, request, ip, upgrade }) => ctx.firehose.accept(request, { cursor: params.cursor, ip, upgrade }),
});
