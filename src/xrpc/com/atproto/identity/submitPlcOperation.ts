import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  // An account moving here is deactivated until its identity points here.
  accountStatus: "deactivated-ok",
  input: Type.Object({ operation: Type.Unknown() }),
  handler: async ({ ctx, auth, input }) => {
    await ctx.accounts.submitPlcOperation(auth!.did!, input.operation);
  },
});
