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
  handler: async ({ ctx, params, request }) => {
    const hosted = await ctx.repo.reader.hostedRepo(params.repo);
    // A repository hosted elsewhere: the AppView (or the atproto-proxy target) may know the record, as in the reference.
    if (!hosted) {
      const passed = await ctx.proxy.forwardToAppView({ request, nsid: "com.atproto.repo.getRecord", caller: null });
      if (passed) return passed;
    }
    // A taken-down or deactivated repository's records are as absent as missing ones.
    const did = hosted?.active ? hosted.did : null;
    const record = did ? await ctx.repo.reader.getRecord(did, params.collection, params.rkey, params.cid) : null;
    if (!record) {
      throw new InvalidRequestError(`Could not locate record: ${recordUri(hosted?.did ?? params.repo, params.collection, params.rkey)}`, "RecordNotFound");
    }
    return record;
  },
});
