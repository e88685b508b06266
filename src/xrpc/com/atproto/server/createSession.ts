import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  input: Type.Object({
    identifier: Type.String(),
    password: Type.String(),
    authFactorToken: Type.Optional(Type.String()),
    allowTakendown: Type.Optional(Type.Boolean()),
  }),
  handler: ({ ctx, input }) => {
    const { identifier, password } = input;
    return ctx.accounts.createSession(identifier, password);
  },
});
