import { Type } from "@sinclair/typebox";
import { adminActor, updatePasswordAsAdmin } from "@/admin/accounts";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Set an account's password and end all its sessions (admin password only, as in the reference). */
export default procedure({
  auth: "admin",
  input: Type.Object({ did: Str("did"), password: Type.String({ minLength: 1 }) }),
  handler: async ({ ctx, auth, input }) => {
    await updatePasswordAsAdmin(ctx, adminActor(auth), input.did, input.password);
  },
});
