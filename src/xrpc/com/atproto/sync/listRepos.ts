import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 500 }),
    // The last DID of the previous page.
    cursor: Type.Optional(Str("did")),
  }),
  handler: async ({ ctx, params }) => {
    const { repos, cursor } = await ctx.repo.reader.listRepos(params);
    return {
      repos: repos.map(({ did, head, rev, active, status }) => ({ did, head, rev, active, ...(status ? { status } : {}) })),
      ...(cursor ? { cursor } : {}),
    };
  },
});
