import type { XrpcMethod } from "./method";
import describeServer from "./com/atproto/server/describeServer";

/**
 * Every XRPC method Aurora serves, by NSID: the whole API surface on one
 * screen. Handler files live at the NSID's path under src/xrpc/.
 */
export const methods: Readonly<Record<string, XrpcMethod>> = {
  "com.atproto.server.describeServer": describeServer,
};
