import { assertAccount } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

export default procedure({
  // As the reference: any session but a taken-down account's; rate limited per account and IP (rules.ts).
  auth: "access",
  oauth: ({ auth }) => assertAccount(auth, "email", "manage"),
  accountStatus: "deactivated-ok",
  handler: async ({ ctx, auth }) => {
    await ctx.accounts.requestEmailConfirmation(auth!.did!);
  },
});
