import { Type } from "@sinclair/typebox";
import { LIST_BLOBS_DEFAULT, LIST_BLOBS_MAX } from "@/blob/service";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  oauth: "atproto",
  accountStatus: "deactivated-ok",
  params: Type.Object({
    limit: Type.Integer({ minimum: 1, maximum: LIST_BLOBS_MAX, default: LIST_BLOBS_DEFAULT }),
    // The last CID of the previous page.
    cursor: Type.Optional(Str("cid")),
  }),
  handler: ({ ctx, auth, params }) => ctx.blobService.listMissing(auth!.did!, params),
});
