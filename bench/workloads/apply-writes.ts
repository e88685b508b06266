import { runLoad } from "../lib/load";
import { type Account, ensureOk, REQUEST_TIMEOUT_MS, xrpcUrl } from "../lib/xrpc";
import { nodeUrls, type Server } from "../targets/server";
import { type LoadLimits, type Measured, measured } from "./measure";
import { COLLECTION, postRecord } from "./records";

export interface BatchResult extends Measured {
  /** Creates per call. */
  batchSize: number;
  /** Records written per second (calls/s × batch size). */
  writesPerSecond: number;
  /** Server CPU per record written, ms. */
  serverCpuMsPerWrite: number;
}

/** The JSON body of one applyWrites call of `size` post creates, record numbers from `first`. */
export function applyWritesBody(repo: string, size: number, first: number): string {
  const writes = Array.from({ length: size }, (_, i) => ({ $type: "com.atproto.repo.applyWrites#create", collection: COLLECTION, value: postRecord(first + i) }));
  return JSON.stringify({ repo, writes });
}

/**
 * applyWrites of `batchSize` creates per call (one commit each), round-robin
 * over the accounts (and the server's processes); bodies built before the clock starts.
 */
export async function applyWrites(server: Server, accounts: Account[], batchSize: number, limits: LoadLimits): Promise<BatchResult> {
  const urls = nodeUrls(server).map((base) => xrpcUrl(base, "com.atproto.repo.applyWrites"));
  const headers = accounts.map((a) => ({ authorization: a.authorization, "content-type": "application/json" }));
  const bodies = Array.from({ length: limits.maxRequests }, (_, i) => applyWritesBody(accounts[i % accounts.length]!.did, batchSize, i * batchSize));
  const result = await measured(server, () =>
    runLoad({
      ...limits,
      async send(i) {
        const res = await fetch(urls[i % urls.length]!, { method: "POST", headers: headers[i % headers.length]!, body: bodies[i]!, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await (await ensureOk(res, "applyWrites")).arrayBuffer();
      },
    }),
  );
  return { ...result, batchSize, writesPerSecond: result.perSecond * batchSize, serverCpuMsPerWrite: result.serverCpuMsPerRequest / batchSize };
}
