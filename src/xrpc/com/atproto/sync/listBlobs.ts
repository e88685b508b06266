import { Type } from "@sinclair/typebox";
import { LIST_BLOBS_DEFAULT, LIST_BLOBS_MAX } from "@/blob/service";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    did: Type.String({ minLength: 1 }),
    since: Type.Optional(Type.String()),
    limit: Type.Integer({ minimum: 1, maximum: LIST_BLOBS_MAX, default: LIST_BLOBS_DEFAULT }),
    cursor: Type.Optional(Type.String()),
  }),
  handler: async ({ ctx, params }) => {
    const { did, ...page } = params;
    const state = await ctx.repo.reader.availableRepo(did);
    return ctx.blobService.list(state.did, page);
  },
});
