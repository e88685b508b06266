import { Type } from "@sinclair/typebox";
import { assertRpc, appViewAudience } from "@/auth/permissions";
import { PreferenceService, accessOf } from "@/preferences/service";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ ctx, auth }) => assertRpc(auth, "app.bsky.actor.putPreferences", appViewAudience(ctx.config)),
  // As the reference: refused to taken-down accounts, allowed while deactivated.
  accountStatus: "deactivated-ok",
  // Items are checked by the service: its messages are the reference's, and it knows the preference lexicons.
  input: Type.Object({ preferences: Type.Array(Type.Unknown()) }),
  handler: async ({ ctx, auth, input }) => {
    await new PreferenceService(ctx.db).put(auth!.did!, input.preferences, accessOf(auth!));
  },
});
