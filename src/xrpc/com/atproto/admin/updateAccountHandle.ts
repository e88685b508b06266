import { Type } from "@sinclair/typebox";
import { adminActor, updateHandleAsAdmin } from "@/admin/accounts";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Change an account's handle: PLC update and #identity (admin password only, as in the reference). */
export default procedure({
  auth: "admin",
  input: Type.Object({ did: Str("did"), handle: Str("printable", { maxLength: 253 }) }),
  handler: async ({ ctx, auth, input }) => {
    await updateHandleAsAdmin(ctx, adminActor(auth), input.did, input.handle);
  },
});
