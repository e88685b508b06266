import http from "node:http";
import net from "node:net";

/**
 * The reference PDS and the PLC server call `listen(port)`, which binds every
 * interface. The benchmark talks to them over loopback only, so make a
 * port-only `listen` bind 127.0.0.1 in the process that calls this. Node's
 * http.Server inherits net.Server's `listen`; Bun's has its own: patch each.
 */
export function bindLoopbackOnly(): void {
  for (const proto of [net.Server.prototype, http.Server.prototype]) {
    if (!Object.hasOwn(proto, "listen")) continue;
    const listen = proto.listen as (...args: unknown[]) => unknown;
    proto.listen = function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
      return listen.apply(this, args);
    } as typeof proto.listen;
  }
}
