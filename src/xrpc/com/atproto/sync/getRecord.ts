import { Type } from "@sinclair/typebox";
import { assertNsid, assertRecordKey } from "@/lexicon/syntax";
import { recordProofCarStream } from "@/repo/car-export";
import { query } from "@/xrpc/method";

/** A CAR with the current commit and the MST nodes proving the record (or its absence), plus the record. */
export default query({
  params: Type.Object({
    did: Type.String({ minLength: 1 }),
    collection: Type.String({ minLength: 1 }),
    rkey: Type.String({ minLength: 1 }),
  }),
  handler: async ({ ctx, params }) => {
    assertNsid(params.collection, "collection");
    assertRecordKey(params.rkey, "rkey");
    const state = await ctx.repo.reader.availableRepo(params.did);
    const car = recordProofCarStream(ctx.db, state.did, state.head, params.collection, params.rkey);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
