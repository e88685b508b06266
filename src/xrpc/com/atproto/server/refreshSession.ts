import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "refresh",
  accountStatus: "deactivated-ok",
  handler: ({ ctx, auth }) => ctx.accounts.refreshSession(auth!.tokenId!),
});
