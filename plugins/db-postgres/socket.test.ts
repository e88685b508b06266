import { expect, test } from "bun:test";
import { retryPolicy } from "./pool";
import net from "node:net";
import { closeWithError, lastStartupPacket } from "./socket";

/** A StartupMessage (protocol 3.0) with one parameter, as a client sends it first. */
function startup(user: string): Uint8Array {
  const body = Buffer.from(`user\0${user}\0\0`);
  const out = Buffer.alloc(8 + body.length);
  out.writeUInt32BE(out.length, 0);
  out.writeUInt32BE(196608, 4);
  body.copy(out, 8);
  return out;
}
/** An ordinary frontend message: type byte, length, body. */
function message(type: string, body: string): Uint8Array {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0);
  out.writeUInt32BE(4 + body.length, 1);
  out.write(body, 5);
  return out;
}
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

test("lastStartupPacket: 0 for a clean first write, past a dead session's messages and earlier tries otherwise", () => {
  expect(lastStartupPacket(startup("aurora"))).toBe(0);
  expect(lastStartupPacket(SSL_REQUEST)).toBe(0);
  const stale = Buffer.concat([message("B", "portal"), message("E", "\0\0\0\0\0"), message("S", "")]);
  expect(lastStartupPacket(Buffer.concat([stale, startup("aurora")]))).toBe(stale.length);
  const tries = Buffer.concat([stale, startup("aurora"), startup("aurora")]);
  expect(lastStartupPacket(Buffer.concat([tries, startup("last")]))).toBe(tries.length);
  expect(lastStartupPacket(Buffer.concat([stale, SSL_REQUEST]))).toBe(stale.length);
});

test("lastStartupPacket: -1 when the bytes do not end with a startup packet", () => {
  expect(lastStartupPacket(message("Q", "select 1\0"))).toBe(-1);
  expect(lastStartupPacket(Buffer.concat([startup("a"), message("p", "secret\0")]))).toBe(-1);
  expect(lastStartupPacket(new Uint8Array(3))).toBe(-1);
});

test("retryPolicy: a statement never sent up to the pool's size, a lost read once, never a write whose fate is unknown", () => {
  for (const code of ["57P01", "57P02", "57P03"]) {
    for (const readOnly of [false, true]) {
      const retry = retryPolicy(readOnly, 3);
      expect([1, 2, 3, 4].map(() => retry({ code }))).toEqual([true, true, true, false]);
    }
  }
  for (const code of ["CONNECTION_CLOSED", "ECONNRESET", "EPIPE"]) {
    const read = retryPolicy(true, 3);
    expect([read({ code }), read({ code })]).toEqual([true, false]);
    expect(retryPolicy(false, 3)({ code })).toBe(false);
  }
  for (const code of ["23505", "40001", "55P03", "57014", "CONNECT_TIMEOUT", "ECONNREFUSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED"]) {
    expect(retryPolicy(true, 3)({ code })).toBe(false);
  }
  expect(retryPolicy(true, 3)(new Error("no code"))).toBe(false);
});

test("closeWithError: a socket's error is followed in the same turn by its close (hadError), and the real close is dropped", async () => {
  // A refused connect: Bun's socket reports the error, then closes some time later.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const socket = new net.Socket();
  closeWithError(socket);
  const seen: string[] = [];
  socket.on("error", () => {
    seen.push("error");
    // Whatever runs between the error and the close (a statement handed to this connection) comes after it.
    queueMicrotask(() => seen.push("microtask"));
  });
  socket.on("close", (hadError: boolean) => seen.push(`close ${hadError}`));
  socket.connect(port, "127.0.0.1");
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(seen).toEqual(["error", "close true", "microtask"]);
});
