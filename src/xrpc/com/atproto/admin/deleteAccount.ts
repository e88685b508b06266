import { Type } from "@sinclair/typebox";
import { adminActor, deleteAccountAsAdmin } from "@/admin/accounts";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Delete an account for good (admin password only, as in the reference). */
export default procedure({
  auth: "admin",
  input: Type.Object({ did: Str("did") }),
  handler: async ({ ctx, auth, input }) => {
    await deleteAccountAsAdmin(ctx, adminActor(auth), input.did);
  },
});
