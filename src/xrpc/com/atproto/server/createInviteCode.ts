import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "admin",
  input: Type.Object({
    useCount: Type.Integer({ minimum: 1 }),
    forAccount: Type.Optional(Str("did")),
  }),
  handler: async ({ ctx, input }) => {
    const { useCount, forAccount } = input;
    const [created] = await ctx.accounts.createInviteCodes({ codeCount: 1, useCount, forAccounts: forAccount ? [forAccount] : undefined });
    return { code: created!.codes[0]! };
  },
});
