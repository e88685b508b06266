import { Type } from "@sinclair/typebox";
import { deleteAccount } from "@/account/delete-request";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  input: Type.Object({
    did: Str("did"),
    password: Type.String(),
    token: Str("printable", { maxLength: 64 }),
  }),
  handler: async ({ ctx, input }) => {
    await deleteAccount(ctx, input);
  },
});
