import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  // A full session only: an app password cannot mint more app passwords.
  auth: "full",
  oauth: "refused",
  accountStatus: "deactivated-ok",
  input: Type.Object({
    name: Str("printable", { minLength: 1, maxLength: 100 }),
    privileged: Type.Optional(Type.Boolean()),
  }),
  handler: ({ ctx, auth, input }) => {
    const { name, privileged } = input;
    return ctx.accounts.createAppPassword(auth!.did!, name, privileged ?? false);
  },
});
