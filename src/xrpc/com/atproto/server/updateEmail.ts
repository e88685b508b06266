import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "full",
  oauth: "refused",
  accountStatus: "deactivated-ok",
  input: Type.Object({
    email: Type.String({ maxLength: 320 }),
    emailAuthFactor: Type.Optional(Type.Boolean()),
    token: Type.Optional(Type.String({ maxLength: 64 })),
  }),
  handler: async ({ ctx, auth, input }) => {
    const { email, emailAuthFactor, token } = input;
    await ctx.accounts.updateEmail(auth!.did!, { email, emailAuthFactor, token });
  },
});
