import net from "node:net";

/**
 * The 32-bit codes after the length in a packet a client sends before its
 * session exists: StartupMessage (protocol 3.0), SSLRequest, CancelRequest,
 * GSSENCRequest.
 */
const STARTUP_CODES = new Set([196608, 80877103, 80877102, 80877104]);

/**
 * Where the last startup packet starts in the first bytes written to a new
 * socket, walking over any ordinary messages and earlier startup packets
 * before it; -1 when the bytes do not end with one.
 */
export function lastStartupPacket(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    if (length >= 8 && STARTUP_CODES.has(view.getUint32(at + 4))) {
      if (at + length === bytes.length) return at;
      at += length;
      continue;
    }
    // An ordinary message: a type byte, then a length that counts itself but not the type byte.
    const messageLength = view.getUint32(at + 1);
    if (messageLength < 4) return -1;
    at += 1 + messageLength;
  }
  return -1;
}

/** How long after connecting a socket with nothing written is taken for stuck. */
const STUCK_AFTER_MS = 10;

/** Where postgres.js would connect; only the fields of its parsed options read here. */
interface Target {
  host: string[];
  port: number[];
  path?: string | false;
}

/**
 * postgres.js's `socket` option: the TCP (or Unix) socket it would open
 * itself, guarded against a connection object that a server-side close left
 * unable to send.
 *
 * postgres.js 3.4.9 batches outgoing messages and flushes them from a
 * setImmediate. When the server closes a connection (pg_terminate_backend,
 * a restart) just after a query was queued on it, the close handler cancels
 * that flush but keeps the batch and the cancelled timer handle; the queued
 * query is rejected (CONNECTION_CLOSED). On reconnect the StartupMessage
 * joins the stale batch and, the handle being set, no flush is scheduled:
 * nothing is sent and the caller's query waits the whole connect_timeout.
 * A batch of 1 KiB or more is written at once, which also clears the handle.
 *
 * So: a socket that has connected and still has nothing to send 10 ms
 * later is closed (quietly: postgres.js reconnects for the
 * same query), each try adding one more StartupMessage to the batch, until
 * the batch passes 1 KiB and goes out (about a dozen tries, some 60 ms apart
 * with our backoff). That first write is cut to its last startup packet: the
 * dead session's query bytes and the earlier tries are dropped, and were
 * they ever sent they would run a statement whose caller was told it failed.
 *
 * Returned before it connects: writes wait in the socket until then, and a
 * refused or timed-out connect reaches postgres.js as the socket's error and
 * close, as with its own sockets. Several hosts are tried in turn. A socket
 * error closes it for postgres.js at once (`closeWithError`).
 */
export function guardedSocket(): (options: Target) => net.Socket {
  let attempt = 0;
  return (options) => {
    const socket = new net.Socket();
    if (options.path) {
      socket.connect(options.path);
    } else {
      const i = attempt++ % options.host.length;
      const [host, port] = [options.host[i]!, options.port[i] ?? options.port[0]!];
      socket.connect(port, host);
      // postgres.js reads these in its error messages.
      Object.assign(socket, { host, port });
    }
    let wrote = false;
    // Wrapped after connect(): Bun's connect() installs a write of its own on the socket.
    const own = Object.getOwnPropertyDescriptor(socket, "write");
    const write = socket.write as (this: net.Socket, chunk: unknown, ...rest: unknown[]) => boolean;
    socket.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      wrote = true;
      if (own) Object.defineProperty(socket, "write", own);
      else delete (socket as { write?: unknown }).write;
      const at = chunk instanceof Uint8Array ? lastStartupPacket(chunk) : 0;
      return write.call(this, at > 0 ? (chunk as Uint8Array).subarray(at) : chunk, ...rest);
    } as typeof socket.write;
    closeWithError(socket);
    // postgres.js queues its first packet as soon as it has the socket and flushes it from a setImmediate;
    // judged a little after the connect and behind an immediate of our own, so that flush always came first.
    socket.once("connect", () =>
      setTimeout(
        () =>
          setImmediate(() => {
            if (!wrote && !socket.destroyed) socket.destroy();
          }),
        STUCK_AFTER_MS,
      ),
    );
    return socket;
  };
}

/**
 * Makes a socket's `error` event followed at once by its `close` (with
 * hadError), the later real `close` being dropped. postgres.js 3.4.9 fails
 * the statements waiting on a connection when its socket errs, and on a
 * close after an error fails none, taking them all for failed already; but
 * it keeps the connection among the busy ones until the close, and hands it
 * new statements, pipelined, in between (a failed statement's caller trying
 * again is enough). Those waited for ever. Closed in the same turn as the
 * error, the connection takes no statement in between.
 */
export function closeWithError(socket: net.Socket): void {
  const emit = socket.emit;
  let closed = false;
  socket.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (event === "close") {
      if (closed) return false;
      closed = true;
      return emit.call(this, event, ...args);
    }
    const handled = emit.call(this, event, ...args);
    if (event === "error" && !closed) {
      closed = true;
      emit.call(this, "close", true);
    }
    return handled;
  } as typeof socket.emit;
}
