import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** No auth, as in the reference: the key stays here, so a reservation gives nobody control of anything. */
export default procedure({
  input: Type.Object({ did: Type.Optional(Str("did")) }),
  handler: async ({ ctx, input }) => ({ signingKey: await ctx.reservedKeys.reserve(input.did) }),
});
