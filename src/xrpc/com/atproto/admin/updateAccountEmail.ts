import { Type } from "@sinclair/typebox";
import { adminActor, updateEmailAsAdmin } from "@/admin/accounts";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Set an account's email address, unconfirmed (admin password only, as in the reference). */
export default procedure({
  auth: "admin",
  input: Type.Object({ account: Str("at-identifier"), email: Str("printable", { maxLength: 254 }) }),
  handler: async ({ ctx, auth, input }) => {
    await updateEmailAsAdmin(ctx, adminActor(auth), input.account, input.email);
  },
});
