import { Type } from "@sinclair/typebox";
import { blocksCar } from "@/repo/car-export";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    did: Type.String({ minLength: 1 }),
    cids: Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }),
  }),
  handler: async ({ ctx, params }) => {
    const state = await ctx.repo.reader.availableRepo(params.did);
    const car = await blocksCar(ctx.db, state.did, params.cids);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
