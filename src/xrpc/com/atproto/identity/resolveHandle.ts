import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({ handle: Type.String({ minLength: 1 }) }),
  handler: async ({ ctx, params }) => {
    const { handle } = params;
    const did = await ctx.accounts.resolveHandle(handle);
    if (!did) throw new InvalidRequestError("Unable to resolve handle");
    return { did };
  },
});
