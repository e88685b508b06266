import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "admin",
  input: Type.Object({
    codeCount: Type.Integer({ minimum: 1, maximum: 1000 }),
    useCount: Type.Integer({ minimum: 1 }),
    forAccounts: Type.Optional(Type.Array(Str("did"), { maxItems: 100 })),
  }),
  handler: async ({ ctx, input }) => {
    const { codeCount, useCount, forAccounts } = input;
    return { codes: await ctx.accounts.createInviteCodes({ codeCount, useCount, forAccounts }) };
  },
});
