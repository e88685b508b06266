import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { recordUri } from "@/lexicon/syntax";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    repo: Type.String({ minLength: 1 }),
    collection: Type.String({ minLength: 1 }),
    rkey: Type.String({ minLength: 1 }),
    cid: Type.Optional(Type.String()),
  }),
  handler: async ({ ctx, params }) => {
    const did = await ctx.repo.reader.resolveRepo(params.repo);
    const record = await ctx.repo.reader.getRecord(did, params.collection, params.rkey, params.cid);
    if (!record) {
      throw new InvalidRequestError(`Could not locate record: ${recordUri(did, params.collection, params.rkey)}`, "RecordNotFound");
    }
    return record;
  },
});
