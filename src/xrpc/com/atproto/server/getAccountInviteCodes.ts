import { Type } from "@sinclair/typebox";
import { query } from "@/xrpc/method";

export default query({
  auth: "full",
  oauth: "refused",
  accountStatus: "deactivated-ok",
  params: Type.Object({
    includeUsed: Type.Boolean({ default: true }),
    // Codes are made by an admin here; there is no periodic allowance to create.
    createAvailable: Type.Boolean({ default: true }),
  }),
  handler: async ({ ctx, auth, params }) => {
    const { includeUsed } = params;
    return { codes: await ctx.accounts.getAccountInviteCodes(auth!.did!, { includeUsed }) };
  },
});
