import { Type } from "@sinclair/typebox";
import { LIST_RECORDS_DEFAULT, LIST_RECORDS_MAX } from "@/repo/reader";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    repo: Type.String({ minLength: 1 }),
    collection: Type.String({ minLength: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: LIST_RECORDS_MAX, default: LIST_RECORDS_DEFAULT }),
    cursor: Type.Optional(Type.String()),
    reverse: Type.Optional(Type.Boolean()),
  }),
  handler: async ({ ctx, params }) => {
    const { repo, collection, ...page } = params;
    const did = await ctx.repo.reader.resolveRepo(repo);
    return ctx.repo.reader.listRecords(did, collection, page);
  },
});
