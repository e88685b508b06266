import { Type } from "@sinclair/typebox";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({ did: Type.String({ minLength: 1 }) }),
  handler: async ({ ctx, params }) => {
    const state = await ctx.repo.reader.availableRepo(params.did);
    return { cid: state.head, rev: state.rev };
  },
});
