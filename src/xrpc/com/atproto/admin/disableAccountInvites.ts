import { Type } from "@sinclair/typebox";
import { adminActor } from "@/admin/accounts";
import { setAccountInvitesDisabled } from "@/admin/invites";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Stop an account receiving invite codes (its existing codes keep working). The reference also takes moderation service auth here. */
export default procedure({
  auth: "moderator",
  input: Type.Object({ account: Str("did"), note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  handler: async ({ ctx, auth, input }) => {
    await setAccountInvitesDisabled(ctx.db, adminActor(auth), input.account, true, input.note);
  },
});
