import { procedure } from "@/xrpc/method";

export default procedure({
  // A full session only, as the reference: an app password must not move the account's address.
  auth: "full",
  oauth: "refused",
  accountStatus: "deactivated-ok",
  handler: ({ ctx, auth }) => ctx.accounts.requestEmailUpdate(auth!.did!),
});
