import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { recordProofCar } from "@/repo/car-export";
import { query } from "@/xrpc/method";

/** A CAR with the current commit and the MST nodes proving the record (or its absence), plus the record. */
export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({
    did: Str("did"),
    collection: Str("nsid"),
    rkey: Str("record-key"),
  }),
  handler: async ({ ctx, params, auth }) => {
    const state = await ctx.repo.reader.availableRepo(params.did, auth);
    const car = await recordProofCar(ctx.db, state.did, params.collection, params.rkey);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
