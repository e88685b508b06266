import { Type } from "@sinclair/typebox";
import { accountViews } from "@/admin/account-view";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

/** Admin views of several accounts; DIDs not hosted here are left out. The reference also takes moderation service auth. */
export default query({
  auth: "moderator",
  params: Type.Object({ dids: Type.Array(Str("did"), { minItems: 1, maxItems: 100 }) }),
  handler: async ({ ctx, params }) => ({ infos: await accountViews(ctx.db.db(), params.dids) }),
});
