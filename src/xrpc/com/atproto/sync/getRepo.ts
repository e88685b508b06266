import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { repoCarStream } from "@/repo/car-export";
import { query } from "@/xrpc/method";

/** The repository as a CAR, streamed from one database snapshot page by page; `since` = only blocks written after that rev. */
export default query({
  // Optional: the owner and the admin may read a repository that is not active.
  auth: "optional",
  oauth: "atproto",
  params: Type.Object({ did: Str("did"), since: Type.Optional(Str("tid")) }),
  handler: async ({ ctx, params, auth }) => {
    const state = await ctx.repo.reader.availableRepo(params.did, auth);
    // The CAR reads its root again inside its own snapshot: a commit may land between the two.
    const car = repoCarStream(ctx.db, state.did, params.since);
    return new Response(car, { headers: { "content-type": "application/vnd.ipld.car" } });
  },
});
