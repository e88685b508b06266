import { Type } from "@sinclair/typebox";
import { repoCarStream } from "@/repo/car-export";
import { query } from "@/xrpc/method";

/** The repository as a CAR, streamed from the database page by page; `since` = only blocks written after that rev. */
export default query({
  params: Type.Object({ did: Type.String({ minLength: 1 }), since: Type.Optional(Type.String()) }),
  handler: async ({ ctx, params }) => {
    const state = await ctx.repo.reader.availableRepo(params.did);
    const car = repoCarStream(ctx.db, state.did, state.head, params.since);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
