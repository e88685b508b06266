import { Type } from "@sinclair/typebox";
import { assertAccount } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ auth }) => assertAccount(auth, "email", "manage"),
  accountStatus: "deactivated-ok",
  input: Type.Object({
    email: Type.String({ maxLength: 320 }),
    token: Type.String({ maxLength: 64 }),
  }),
  handler: async ({ ctx, auth, input }) => {
    const { email, token } = input;
    await ctx.accounts.confirmEmail(auth!.did!, email, token);
  },
});
