import { assertIdentity } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "full",
  oauth: ({ auth }) => assertIdentity(auth, "*"),
  // Moving out must work for a deactivated account and, through its limited session, a taken-down one (as the reference).
  accountStatus: "any",
  handler: async ({ ctx, auth }) => {
    await ctx.accounts.requestPlcOperationSignature(auth!.did!);
  },
});
