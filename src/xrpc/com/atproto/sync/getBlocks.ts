import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { blocksCar } from "@/repo/car-export";
import { query } from "@/xrpc/method";

export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({
    did: Str("did"),
    cids: Type.Array(Str("cid"), { minItems: 1, maxItems: 1000 }),
  }),
  handler: async ({ ctx, params, auth }) => {
    const state = await ctx.repo.reader.availableRepo(params.did, auth);
    const car = await blocksCar(ctx.db, state.did, params.cids);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
