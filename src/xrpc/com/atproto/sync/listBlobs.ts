import { Type } from "@sinclair/typebox";
import { LIST_BLOBS_DEFAULT, LIST_BLOBS_MAX } from "@/blob/service";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({
    did: Str("did"),
    since: Type.Optional(Str("tid")),
    limit: Type.Integer({ minimum: 1, maximum: LIST_BLOBS_MAX, default: LIST_BLOBS_DEFAULT }),
    // The last CID of the previous page.
    cursor: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, params, auth }) => {
    const { did, ...page } = params;
    const state = await ctx.repo.reader.availableRepo(did, auth);
    return ctx.blobService.list(state.did, page);
  },
});
