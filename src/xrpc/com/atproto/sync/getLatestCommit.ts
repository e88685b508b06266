import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({ did: Str("did") }),
  handler: async ({ ctx, params, auth }) => {
    const state = await ctx.repo.reader.availableRepo(params.did, auth);
    return { cid: state.head, rev: state.rev };
  },
});
