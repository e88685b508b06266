import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "refresh",
  handler: ({ ctx, auth }) => ctx.accounts.refreshSession(auth!.tokenId!),
});
