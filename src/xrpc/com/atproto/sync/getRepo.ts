import { Type } from "@sinclair/typebox";
import { repoCarStream } from "@/repo/car-export";
import { query } from "@/xrpc/method";

/** The repository as a CAR, streamed from one database snapshot page by page; `since` = only blocks written after that rev. */
export default query({
  params: Type.Object({ did: Type.String({ minLength: 1 }), since: Type.Optional(Type.String()) }),
  handler: async ({ ctx, params }) => {
    const state = await ctx.repo.reader.availableRepo(params.did);
    // The CAR reads its root again inside its own snapshot: a commit may land between the two.
    const car = repoCarStream(ctx.db, state.did, params.since);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
