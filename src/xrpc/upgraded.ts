/**
 * What a subscription handler returns once its request became a WebSocket:
 * the socket server sends nothing more for the request (it is logged as
 * status 101). A leaf module, so the rate limiter and the firehose can
 * recognise it without importing the XRPC layer.
 */
export const UPGRADED: Response = new Response(null, { status: 200, statusText: "Switching Protocols" });
