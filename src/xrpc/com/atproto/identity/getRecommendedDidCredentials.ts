import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  handler: ({ ctx, auth }) => ctx.accounts.recommendedDidCredentials(auth!.did!),
});
