import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  oauth: "refused",
  accountStatus: "any",
  handler: async ({ ctx, auth }) => ({ passwords: await ctx.accounts.listAppPasswords(auth!.did!) }),
});
