import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { jsonText } from "@/http/respond";
import { pageBody } from "@/repo/record-body";
import { LIST_RECORDS_DEFAULT, LIST_RECORDS_MAX } from "@/repo/reader";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    limit: Type.Integer({ minimum: 1, maximum: LIST_RECORDS_MAX, default: LIST_RECORDS_DEFAULT }),
    // The last record key of the previous page.
    cursor: Type.Optional(Str("record-key")),
    reverse: Type.Optional(Type.Boolean()),
  }),
  handler: async ({ ctx, params }) => {
    const { repo, collection, ...page } = params;
    const did = await ctx.repo.reader.resolveRepo(repo);
    const listed = await ctx.repo.reader.listRecords(did, collection, page);
    // An empty page needs a second look: a repository not hosted here, or not active, is RepoNotFound, not empty.
    if (listed.records.length === 0 && !(await ctx.repo.reader.hostedRepo(did))?.active) {
      throw new InvalidRequestError(`Could not find repo: ${repo}`, "RepoNotFound");
    }
    return jsonText(pageBody(listed.records, listed.cursor));
  },
});
