import { Type } from "@sinclair/typebox";
import { adminActor, sendModerationEmail } from "@/admin/accounts";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

/** Mail an account through the moderation transport. The reference also takes moderation service auth here. */
export default procedure({
  auth: "moderator",
  input: Type.Object({
    recipientDid: Str("did"),
    content: Type.String({ minLength: 1, maxLength: 20_000 }),
    subject: Type.Optional(Str("printable", { maxLength: 500 })),
    senderDid: Str("did"),
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
  }),
  handler: async ({ ctx, auth, input }) => sendModerationEmail(ctx, adminActor(auth), input),
});
