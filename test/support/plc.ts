import { Database, PlcServer } from "@did-plc/server";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

export interface TestPlc {
  /** `http://localhost:<port>`: a hostname, as PDS_DID_PLC_URL needs. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A real PLC directory (@did-plc/server) on a free loopback port, keeping its
 * operations in memory: it checks signatures and rotation keys like
 * plc.directory does, and forgets everything on stop.
 */
export async function startPlc(): Promise<TestPlc> {
  const db = Database.mock();
  const server = PlcServer.create({ db });
  // Its own start() binds every interface; tests stay on loopback.
  const http = server.app.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    async stop() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await db.close();
    },
  };
}
