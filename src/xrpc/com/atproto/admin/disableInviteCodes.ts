import { Type } from "@sinclair/typebox";
import { adminActor } from "@/admin/accounts";
import { disableInviteCodes } from "@/admin/invites";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Disable codes by value and/or every code of some accounts. The reference also takes moderation service auth here. */
export default procedure({
  auth: "moderator",
  input: Type.Object({
    codes: Type.Optional(Type.Array(Str("printable", { maxLength: 128 }), { maxItems: 1000 })),
    accounts: Type.Optional(Type.Array(Str("printable", { maxLength: 2048 }), { maxItems: 1000 })),
  }),
  handler: async ({ ctx, auth, input }) => {
    const { codes = [], accounts = [] } = input;
    await disableInviteCodes(ctx.db, adminActor(auth), { codes, accounts });
  },
});
