import { Type } from "@sinclair/typebox";
import { assertIdentity } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ auth }) => assertIdentity(auth, "*"),
  // An account moving here is deactivated until its identity points here.
  accountStatus: "deactivated-ok",
  input: Type.Object({ operation: Type.Unknown() }),
  handler: async ({ ctx, auth, input }) => {
    await ctx.accounts.submitPlcOperation(auth!.did!, input.operation);
  },
});
