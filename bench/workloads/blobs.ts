import { randomBytes } from "node:crypto";
import { runLoad } from "../lib/load";
import { type Account, ensureOk, REQUEST_TIMEOUT_MS, xrpcUrl } from "../lib/xrpc";
import type { Server } from "../targets/server";
import { type LoadLimits, type Measured, measured } from "./measure";

export const BLOB_BYTES = 1_000_000;

export interface BlobResult extends Measured {
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSecond: number;
  /** Where the server stored them (the target's blobstore). */
  backend: string;
}

/**
 * uploadBlob of distinct 1 MB blobs (random bytes, so no server can
 * deduplicate or compress them).
 */
export async function uploadBlobs(server: Server, accounts: Account[], limits: LoadLimits, backend: string): Promise<BlobResult> {
  const url = xrpcUrl(server.url, "com.atproto.repo.uploadBlob");
  const base = new Uint8Array(randomBytes(BLOB_BYTES));
  const headers = accounts.map((a) => ({ authorization: a.authorization, "content-type": "application/octet-stream" }));
  const result = await measured(server, () =>
    runLoad({
      ...limits,
      async send(i) {
        // A fresh copy per request (about 0.1 ms): prebuilding hundreds of MB would weigh on the machine more.
        const blob = base.slice();
        new DataView(blob.buffer).setUint32(0, i);
        const res = await fetch(url, {
          method: "POST",
          headers: headers[i % headers.length]!,
          body: blob,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await (await ensureOk(res, "uploadBlob")).arrayBuffer();
      },
    }),
  );
  if (result.requests === 0) throw new Error(`uploadBlob to ${backend}: ${result.firstError ?? "no upload succeeded"}`);
  return { ...result, mbPerSecond: (result.requests * BLOB_BYTES) / 1e6 / result.seconds, backend };
}
