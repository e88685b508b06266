import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  input: Type.Object({ name: Type.String() }),
  handler: async ({ ctx, auth, input }) => {
    const { name } = input;
    await ctx.accounts.revokeAppPassword(auth!.did!, name);
  },
});
