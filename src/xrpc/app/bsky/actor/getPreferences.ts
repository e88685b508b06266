import { assertRpc, appViewAudience } from "@/auth/permissions";
import { PreferenceService, accessOf } from "@/preferences/service";
import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  oauth: ({ ctx, auth }) => assertRpc(auth, "app.bsky.actor.getPreferences", appViewAudience(ctx.config)),
  // As the reference: a taken-down or deactivated account may still read its own preferences.
  accountStatus: "any",
  handler: async ({ ctx, auth }) => {
    const preferences = await new PreferenceService(ctx.db).get(auth!.did!, accessOf(auth!));
    return { preferences };
  },
});
