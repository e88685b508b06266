import { Type } from "@sinclair/typebox";
import { adminActor } from "@/admin/accounts";
import { setAccountInvitesDisabled } from "@/admin/invites";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Allow an account to receive invite codes again. The reference also takes moderation service auth here. */
export default procedure({
  auth: "moderator",
  input: Type.Object({ account: Str("did"), note: Type.Optional(Type.String({ maxLength: 2000 })) }),
  handler: async ({ ctx, auth, input }) => {
    await setAccountInvitesDisabled(ctx.db, adminActor(auth), input.account, false, input.note);
  },
});
