import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  oauth: "atproto",
  accountStatus: "any",
  handler: ({ ctx, auth }) => ctx.accounts.recommendedDidCredentials(auth!.did!),
});
