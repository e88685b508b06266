import type * as plc from "@did-plc/lib";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { RunConfig } from "@/config/resolve";
import type { DatabasePlugin } from "@/contracts/db";
import { ConfigError } from "@/errors";
import type { Logger } from "@/log";

/** The `identity.plcUrl` value (env PDS_DID_PLC_URL=embedded) that asks for a directory inside this process. */
export const EMBEDDED_PLC = "embedded";

/** The file in the data directory that keeps the embedded directory's operations, one JSON object a line. */
export const PLC_OPERATIONS_FILE = "plc-operations.jsonl";

/** A running embedded directory, or the configured external one (then `stop` and `checkAccounts` do nothing). */
export interface EmbeddedPlc {
  /** The config to run with: `identity.plcUrl` is the embedded directory's loopback URL when it was started. */
  readonly config: RunConfig;
  /** Warn about hosted did:plc accounts this directory does not know (made against another directory). */
  checkAccounts(db: DatabasePlugin): Promise<void>;
  stop(): Promise<void>;
}

/** One accepted operation as the operations file keeps it. */
interface SavedOperation {
  did: string;
  operation: plc.OpOrTombstone;
  createdAt: string;
}

/** The parts of @did-plc/server's in-memory database we use (its `contents` is the whole store). */
interface MockPlcDatabase {
  contents: Record<string, { cid: { toString(): string }; createdAt: Date }[]>;
  validateAndAddOp(did: string, op: plc.OpOrTombstone): Promise<void>;
  close(): Promise<void>;
}

/**
 * Start a did:plc directory in this process when the config asks for one
 * (`identity.plcUrl: "embedded"`; resolveConfig allows that only in dev mode
 * on localhost). It is @did-plc/server with its in-memory database, so it
 * checks signatures, rotation keys and `prev` as plc.directory does, listens
 * on 127.0.0.1 only (a free port, or `identity.embeddedPlcPort`), and
 * publishes nothing to the network. Every accepted operation is appended to
 * `<dataDir>/plc-operations.jsonl` and replayed (re-verified) at start, so
 * the accounts in the same data directory keep resolvable DIDs across
 * restarts; deleting the data directory resets both together.
 */
export async function startEmbeddedPlc(config: RunConfig, log: Logger): Promise<EmbeddedPlc> {
  if (config.identity.plcUrl !== EMBEDDED_PLC) {
    return { config, checkAccounts: async () => {}, stop: async () => {} };
  }
  // Loaded only here: the directory (express and its dependencies) costs nothing when it is not used.
  const { Database, PlcServer } = await import("@did-plc/server");
  const mock = Database.mock() as unknown as MockPlcDatabase;
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(config.dataDir, PLC_OPERATIONS_FILE);
  const replayed = await replay(mock, file);

  const accept = mock.validateAndAddOp.bind(mock);
  mock.validateAndAddOp = async (did, op) => {
    await accept(did, op);
    const createdAt = mock.contents[did]?.at(-1)?.createdAt ?? new Date();
    // Written before the directory answers 200, so an acknowledged operation is on disk.
    appendFileSync(file, `${JSON.stringify({ did, operation: op, createdAt: createdAt.toISOString() } satisfies SavedOperation)}\n`);
  };

  const server = PlcServer.create({ db: mock as never });
  const http: Server = server.app.listen(config.identity.embeddedPlcPort ?? 0, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    http.once("listening", resolve);
    http.once("error", (err) => reject(new ConfigError(`embedded PLC directory cannot listen on 127.0.0.1:${config.identity.embeddedPlcPort}: ${err.message}`)));
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  log.warn(`embedded PLC directory at ${url}, identities are not published to the network`, {
    plcUrl: url,
    operationsFile: file,
    replayedOperations: replayed,
    dids: Object.keys(mock.contents).length,
  });

  return {
    config: { ...config, identity: { ...config.identity, plcUrl: url } },
    async checkAccounts(db) {
      const rows = await db.db().selectFrom("account").select("did").where("did", "like", "did:plc:%").execute();
      const unknown = rows.map((r) => r.did).filter((did) => !mock.contents[did]?.length);
      if (unknown.length === 0) return;
      log.warn("accounts in the data directory have DIDs the embedded PLC directory does not know: they were made against another directory and cannot be resolved here; delete the data directory to start fresh, or run with that directory's PDS_DID_PLC_URL", {
        count: unknown.length,
        dids: unknown.slice(0, 5),
      });
    },
    async stop() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await mock.close();
    },
  };
}

/**
 * Feed the saved operations back through the directory's own validation, in
 * order, then restore their original timestamps (afterwards, so a recovery
 * operation's 72-hour window is judged as it was when it was accepted). A
 * line that does not parse or verify stops the start: the file is ours, so a
 * bad line means it was edited or truncated, and guessing would fork DIDs.
 */
async function replay(mock: MockPlcDatabase, file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, "utf8").split("\n");
  const createdAt = new Map<string, string>();
  let count = 0;
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    try {
      const saved = JSON.parse(line) as SavedOperation;
      await mock.validateAndAddOp(saved.did, saved.operation);
      const cid = mock.contents[saved.did]?.at(-1)?.cid.toString();
      if (cid) createdAt.set(cid, saved.createdAt);
      count++;
    } catch (err) {
      throw new ConfigError(
        `${file} line ${index + 1}: ${(err as Error).message}; the embedded PLC directory's saved operations are damaged (delete the data directory to start fresh)`,
      );
    }
  }
  for (const ops of Object.values(mock.contents)) {
    for (const op of ops) {
      const saved = createdAt.get(op.cid.toString());
      if (saved) op.createdAt = new Date(saved);
    }
  }
  return count;
}
