import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "full",
  oauth: "refused",
  // As the reference: a taken-down account may still deactivate (its status stays takendown).
  accountStatus: "any",
  input: Type.Object({ deleteAfter: Type.Optional(Type.String({ maxLength: 64 })) }),
  handler: async ({ ctx, auth, input }) => {
    const { deleteAfter } = input;
    const at = deleteAfter === undefined ? null : Date.parse(deleteAfter);
    if (at !== null && Number.isNaN(at)) throw new InvalidRequestError("deleteAfter must be a datetime");
    await ctx.accounts.deactivateAccount(auth!.did!, at === null ? null : new Date(at).toISOString());
  },
});
