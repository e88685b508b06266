import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  input: Type.Object({ email: Type.String({ maxLength: 320 }) }),
  handler: async ({ ctx, input }) => {
    await ctx.accounts.requestPasswordReset(input.email);
  },
});
