import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  input: Type.Object({
    token: Type.String({ maxLength: 64 }),
    password: Type.String(),
  }),
  handler: async ({ ctx, input }) => {
    const { token, password } = input;
    await ctx.accounts.resetPassword(token, password);
  },
});
