import { Type } from "@sinclair/typebox";
import { XrpcError } from "@/errors";
import { query } from "@/xrpc/method";

/**
 * The firehose is a WebSocket subscription: Bun.serve hands upgrade requests
 * for this path to src/firehose (see src/http/server.ts) before the XRPC
 * layer sees them. A plain GET lands here and is told how to connect.
 */
export default query({
  params: Type.Object({ cursor: Type.Optional(Type.Integer({ minimum: 0 })) }),
  handler: () => {
    throw new XrpcError(426, "InvalidRequest", "com.atproto.sync.subscribeRepos is an event stream: connect with a WebSocket");
  },
});
