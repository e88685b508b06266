import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "refresh",
  handler: async ({ ctx, auth }) => {
    await ctx.accounts.deleteSession(auth!.tokenId!);
  },
});
