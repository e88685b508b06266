import { Type } from "@sinclair/typebox";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 500 }),
    cursor: Type.Optional(Type.String()),
  }),
  handler: async ({ ctx, params }) => {
    const { repos, cursor } = await ctx.repo.reader.listRepos(params);
    return {
      repos: repos.map(({ did, head, rev, active, status }) => ({ did, head, rev, active, ...(status ? { status } : {}) })),
      ...(cursor ? { cursor } : {}),
    };
  },
});
