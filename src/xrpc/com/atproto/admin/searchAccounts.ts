import { Type } from "@sinclair/typebox";
import { searchAccounts } from "@/admin/account-view";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

/**
 * Accounts by email prefix, a page at a time; with no `email`, every account.
 * `handle` (a handle prefix) is Aurora's addition to the lexicon's params,
 * for the admin tools. The reference PDS no longer serves this method (a
 * moderation service does); when it did, it took moderation service auth too.
 */
export default query({
  auth: "admin",
  params: Type.Object({
    email: Type.Optional(Str("printable", { maxLength: 254 })),
    handle: Type.Optional(Str("printable", { maxLength: 253 })),
    cursor: Type.Optional(Str("did")),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  }),
  handler: async ({ ctx, params }) => searchAccounts(ctx.db.db(), params),
});
