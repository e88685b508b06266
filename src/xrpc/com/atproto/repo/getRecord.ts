import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { recordUri } from "@/lexicon/syntax";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    rkey: Str("record-key"),
    cid: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, params }) => {
    const did = await ctx.repo.reader.activeRepo(params.repo);
    // A taken-down or deactivated repository's records are as absent as missing ones.
    const record = did ? await ctx.repo.reader.getRecord(did, params.collection, params.rkey, params.cid) : null;
    if (!record) {
      throw new InvalidRequestError(`Could not locate record: ${recordUri(did ?? params.repo, params.collection, params.rkey)}`, "RecordNotFound");
    }
    return record;
  },
});
