/**
 * An in-memory PLC directory (@did-plc/server with Database.mock()) as its
 * own process, shared by every server under test so that identity work is
 * outside both the load generator and the PDS being measured.
 * Run as a script it prints its port; `startPlc()` spawns it.
 */
import { Database, PlcServer } from "@did-plc/server";
import type { Subprocess } from "bun";
import { track } from "./lib/cleanup";
import { bindLoopbackOnly } from "./lib/loopback";

export interface Plc {
  /** http://localhost:PORT: the reference PDS refuses IP-address hosts. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startPlc(): Promise<Plc> {
  const child: Subprocess<"ignore", "pipe", "inherit"> = Bun.spawn([process.execPath, import.meta.path], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(15_000).then(() => undefined)]);
  reader.releaseLock();
  const port = Number(new TextDecoder().decode(first?.value ?? new Uint8Array()).trim());
  if (!port) {
    child.kill("SIGKILL");
    throw new Error("the PLC server did not report its port within 15 s");
  }
  const stop = async () => {
    untrack();
    child.kill("SIGTERM");
    await child.exited;
  };
  const untrack = track(stop);
  return { url: `http://localhost:${port}`, stop };
}

if (import.meta.main) {
  bindLoopbackOnly();
  const server = PlcServer.create({ db: Database.mock(), port: Number(process.argv[2] ?? 0) });
  const http = await server.start();
  const address = http.address();
  console.log(typeof address === "object" && address ? address.port : 0);
  process.once("SIGTERM", async () => {
    await server.destroy();
    process.exit(0);
  });
}
