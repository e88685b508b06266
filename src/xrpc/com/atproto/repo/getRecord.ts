import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { jsonText } from "@/http/respond";
import { recordUri } from "@/lexicon/syntax";
import { recordBody } from "@/repo/record-body";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    rkey: Str("record-key"),
    cid: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, params, request }) => {
    // One query on the common path: the record, if its account is hosted here and active.
    const did = await ctx.repo.reader.didOf(params.repo);
    const record = did ? await ctx.repo.reader.getRecord(did, params.collection, params.rkey, params.cid) : null;
    if (record) return jsonText(recordBody(record));
    // A repository hosted elsewhere: the AppView (or the atproto-proxy target) may know the record, as in the reference.
    const hosted = did ? await ctx.repo.reader.hostedRepo(did) : null;
    if (!hosted) {
      const passed = await ctx.proxy.forwardToAppView({ request, nsid: "com.atproto.repo.getRecord", caller: null });
      if (passed) return passed;
    }
    throw new InvalidRequestError(`Could not locate record: ${recordUri(did ?? params.repo, params.collection, params.rkey)}`, "RecordNotFound");
  },
});
