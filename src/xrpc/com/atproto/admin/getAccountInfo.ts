import { Type } from "@sinclair/typebox";
import { accountView } from "@/admin/account-view";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

/** An account's admin view, whatever its status. The reference also takes moderation service auth here. */
export default query({
  auth: "moderator",
  params: Type.Object({ did: Str("did") }),
  handler: async ({ ctx, params }) => accountView(ctx.db.db(), params.did),
});
