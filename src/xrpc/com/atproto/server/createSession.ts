import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  input: Type.Object({
    // A handle, DID or email; which one is decided by the lookup.
    identifier: Str("printable", { minLength: 1, maxLength: 256 }),
    password: Type.String(),
    authFactorToken: Type.Optional(Type.String()),
    allowTakendown: Type.Optional(Type.Boolean()),
  }),
  handler: ({ ctx, input, ip }) => {
    const { identifier, password, authFactorToken, allowTakendown } = input;
    return ctx.accounts.createSession(identifier, password, ip, { authFactorToken, allowTakendown });
  },
});
