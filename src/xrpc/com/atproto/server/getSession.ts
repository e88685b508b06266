import { canReadEmail } from "@/auth/permissions";
import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  // The email address only with account:email (see the handler).
  oauth: "atproto",
  accountStatus: "any",
  handler: async ({ ctx, auth }) => {
    const session = await ctx.accounts.getSession(auth!.did!);
    if (canReadEmail(auth)) return session;
    const { email: _email, emailConfirmed: _confirmed, emailAuthFactor: _factor, ...rest } = session;
    return rest;
  },
});
