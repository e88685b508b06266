import { query } from "@/xrpc/method";

/**
 * The sign-up queue (an entryway's): a PDS that takes sign-ups itself queues
 * nobody, so every account is activated, as the reference answers without
 * an entryway. Any access token, any account status; OAuth tokens refused.
 */
export default query({
  auth: "access",
  oauth: "refused",
  accountStatus: "any",
  handler: () => ({ activated: true }),
});
