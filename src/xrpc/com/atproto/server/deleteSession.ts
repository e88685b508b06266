import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "refresh",
  accountStatus: "any",
  handler: async ({ ctx, auth }) => {
    await ctx.accounts.deleteSession(auth!.tokenId!);
  },
});
