import { runLoad } from "../lib/load";
import { runWrk } from "../lib/wrk";
import { type Account, ensureOk, REQUEST_TIMEOUT_MS, xrpcUrl } from "../lib/xrpc";
import { nodeUrls, type Server } from "../targets/server";
import { type LoadLimits, type Measured, measured } from "./measure";

export const COLLECTION = "app.bsky.feed.post";

export interface RecordRef {
  did: string;
  rkey: string;
}

/** A small post, like most records on the network. */
export function postRecord(i: number): Record<string, string> {
  return { $type: COLLECTION, text: `bench post ${i}: the quick brown fox jumps over the lazy dog`, createdAt: new Date().toISOString() };
}

/** createRecord round-robin over the accounts (and the server's processes); bodies and headers built before the clock starts. */
export async function createRecords(server: Server, accounts: Account[], limits: LoadLimits): Promise<{ result: Measured; refs: RecordRef[] }> {
  const urls = nodeUrls(server).map((base) => xrpcUrl(base, "com.atproto.repo.createRecord"));
  const headers = accounts.map((a) => ({ authorization: a.authorization, "content-type": "application/json" }));
  const bodies = Array.from({ length: limits.maxRequests }, (_, i) =>
    JSON.stringify({ repo: accounts[i % accounts.length]!.did, collection: COLLECTION, record: postRecord(i) }),
  );
  const refs: RecordRef[] = [];
  const result = await measured(server, () =>
    runLoad({
      ...limits,
      async send(i) {
        const res = await fetch(urls[i % urls.length]!, {
          method: "POST",
          headers: headers[i % headers.length]!,
          body: bodies[i]!,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const { uri } = (await (await ensureOk(res, "createRecord")).json()) as { uri: string };
        const [did, , rkey] = uri.slice("at://".length).split("/");
        refs.push({ did: did!, rkey: rkey! });
      },
    }),
  );
  return { result, refs };
}

/** Who sends the read requests: wrk (files go to `dir`) or the Bun client in this process. */
export type ReadClient = { kind: "wrk"; dir: string; threads: number } | { kind: "bun" };

export interface ReadMeasured extends Measured {
  loadGenerator: "wrk" | "bun";
}

/** getRecord over records created earlier, unauthenticated as an AppView or browser would read them. */
export function getRecords(server: Server, refs: RecordRef[], limits: LoadLimits, client: ReadClient): Promise<ReadMeasured> {
  if (refs.length === 0) throw new Error("getRecord needs records: run createRecord first");
  const urls = refs.map((r) => xrpcUrl(server.url, "com.atproto.repo.getRecord", { repo: r.did, collection: COLLECTION, rkey: r.rkey }));
  return readLoad(server, urls, limits, "getRecord", client);
}

/** listRecords, the first page of 50, for each account in turn. */
export function listRecords(server: Server, accounts: Account[], limits: LoadLimits, client: ReadClient): Promise<ReadMeasured> {
  const urls = accounts.map((a) => xrpcUrl(server.url, "com.atproto.repo.listRecords", { repo: a.did, collection: COLLECTION, limit: 50 }));
  return readLoad(server, urls, limits, "listRecords", client);
}

async function readLoad(server: Server, urls: string[], limits: LoadLimits, what: string, client: ReadClient): Promise<ReadMeasured> {
  // wrk runs for the time limit (it has no request cap); the rotation covers every URL.
  if (client.kind === "wrk") {
    const result = await measured(server, () =>
      runWrk({ urls, connections: limits.concurrency, threads: client.threads, seconds: limits.maxMs / 1000, dir: client.dir }),
    );
    if (result.requests === 0) throw new Error(`${what}: ${result.firstError ?? "no successful request"}`);
    return { ...result, loadGenerator: "wrk" };
  }
  const result = await measured(server, () =>
    runLoad({
      ...limits,
      async send(i) {
        const res = await fetch(urls[i % urls.length]!, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await (await ensureOk(res, what)).arrayBuffer();
      },
    }),
  );
  return { ...result, loadGenerator: "bun" };
}
