import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: "refused",
  accountStatus: "any",
  input: Type.Object({ name: Str("printable", { minLength: 1, maxLength: 100 }) }),
  handler: async ({ ctx, auth, input }) => {
    const { name } = input;
    await ctx.accounts.revokeAppPassword(auth!.did!, name);
  },
});
