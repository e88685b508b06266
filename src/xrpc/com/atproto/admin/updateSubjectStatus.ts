import { Type } from "@sinclair/typebox";
import { setAccountDeactivated } from "@/admin/deactivation";
import { actorOf, recordSubject } from "@/admin/subjects";
import { sequenceAccountStatus, takedownAccount, takedownBlob, takedownRecord } from "@/admin/takedown";
import { parseCid } from "@/blob/service";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

const statusAttr = Type.Object({ applied: Type.Boolean(), ref: Type.Optional(Str("printable", { maxLength: 2048 })) });

/**
 * Take down or restore an account, a record or a blob (`takedown`), and
 * deactivate or activate an account (`deactivated`), as the reference: the
 * takedown first, then the deactivation; with neither, an account subject is
 * announced again with its current `#account` status. Answers with the
 * subject and takedown as given. A subject that is not here changes nothing
 * and is answered the same (a moderation service may act on content already
 * deleted); unlike the reference no `#account` event is sent for an account
 * that is not hosted here.
 */
export default procedure({
  auth: "moderator",
  input: Type.Object({
    subject: Type.Union([
      Type.Object({ $type: Type.Literal("com.atproto.admin.defs#repoRef"), did: Str("did") }),
      Type.Object({ $type: Type.Literal("com.atproto.repo.strongRef"), uri: Str("printable", { maxLength: 8192 }), cid: Str("cid") }),
      Type.Object({
        $type: Type.Literal("com.atproto.admin.defs#repoBlobRef"),
        did: Str("did"),
        cid: Str("cid"),
        recordUri: Type.Optional(Str("printable", { maxLength: 8192 })),
      }),
    ]),
    takedown: Type.Optional(statusAttr),
    deactivated: Type.Optional(statusAttr),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { subject, takedown, deactivated } = input;
    if (takedown?.applied && deactivated !== undefined && !deactivated.applied) {
      throw new InvalidRequestError("Cannot activate and takedown an account at the same time");
    }
    const actor = actorOf(auth);
    if (takedown) {
      if (subject.$type === "com.atproto.admin.defs#repoRef") {
        await takedownAccount(ctx, actor, subject.did, takedown);
      } else if (subject.$type === "com.atproto.repo.strongRef") {
        const record = await recordSubject(subject.uri, (id) => ctx.repo.reader.didOf(id));
        if (record) await takedownRecord(ctx, actor, record, takedown);
      } else {
        await takedownBlob(ctx, actor, subject.did, parseCid(subject.cid, "cid"), takedown);
      }
    }
    if (subject.$type === "com.atproto.admin.defs#repoRef") {
      const hosted = (await ctx.accounts.getAccount(subject.did)) !== undefined;
      if (deactivated && hosted) await setAccountDeactivated(ctx, actor, subject.did, deactivated.applied);
      if (!takedown && !deactivated) await sequenceAccountStatus(ctx, subject.did);
    }
    return { subject, ...(takedown ? { takedown } : {}) };
  },
});
