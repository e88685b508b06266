import { Type } from "@sinclair/typebox";
import { listInviteCodes } from "@/admin/invites";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

/** Every invite code with its uses, newest or most used first. The reference also takes moderation service auth here. */
export default query({
  auth: "moderator",
  params: Type.Object({
    sort: Str("printable", { default: "recent", maxLength: 32 }),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Str("printable", { maxLength: 256 })),
  }),
  handler: async ({ ctx, params }) => listInviteCodes(ctx.db.db(), params),
});
