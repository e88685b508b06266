import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "full",
  oauth: "refused",
  // Deactivated accounts are the point; a taken-down one gets the service's AccountNotFound.
  accountStatus: "any",
  handler: async ({ ctx, auth }) => {
    await ctx.accounts.activateAccount(auth!.did!);
  },
});
