import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

/**
 * Bun.serve drops a handler's Content-Length on stream bodies and sends them
 * chunked (oven-sh/bun#10507). Blobs up to this size (every image a lexicon
 * allows) are read whole so the length is sent; larger ones stream.
 */
const BUFFERED_MAX = 8 * 1024 * 1024;

/**
 * The blob's bytes. Blobs are user content: the CSP sandbox and nosniff keep
 * a browser from running or re-typing them if someone links one directly.
 */
export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({ did: Str("did"), cid: Str("cid") }),
  handler: async ({ ctx, params, auth }) => {
    const state = await ctx.repo.reader.availableRepo(params.did, auth);
    const blob = await ctx.blobService.read(state.did, params.cid);
    const body = blob.size <= BUFFERED_MAX ? await new Response(blob.stream).arrayBuffer() : blob.stream;
    return new Response(body, {
      headers: {
        "content-type": blob.mimeType,
        "content-length": String(blob.size),
        "content-security-policy": "default-src 'none'; sandbox",
        "x-content-type-options": "nosniff",
      },
    });
  },
});
