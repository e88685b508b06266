import { Type } from "@sinclair/typebox";
import { assertIdentity } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ auth }) => assertIdentity(auth, "handle"),
  accountStatus: "deactivated-ok",
  input: Type.Object({ handle: Type.String() }),
  handler: async ({ ctx, auth, input }) => {
    const { handle } = input;
    await ctx.accounts.updateHandle(auth!.did!, handle);
  },
});
