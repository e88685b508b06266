import { Type } from "@sinclair/typebox";
import { accountStatus, blobStatus, recordStatus, recordSubject } from "@/admin/subjects";
import { parseCid } from "@/blob/service";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

const notFound = () => new InvalidRequestError("Subject not found", "NotFound");

/**
 * This server's takedown (and, for accounts, deactivation) state of one
 * subject: a blob (`blob` with its `did`), else a record (`uri`), else an
 * account (`did`), as the reference picks them. 400 NotFound for a subject
 * that is not here.
 */
export default query({
  auth: "moderator",
  params: Type.Object({
    did: Type.Optional(Str("did")),
    uri: Type.Optional(Str("printable", { maxLength: 8192 })),
    blob: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, params }) => {
    const { did, uri, blob } = params;
    const db = ctx.db.db();
    if (blob !== undefined) {
      if (did === undefined) throw new InvalidRequestError("Must provide a did to request blob state");
      const cid = parseCid(blob, "blob");
      const takedown = await blobStatus(db, did, cid);
      if (!takedown) throw notFound();
      return { subject: { $type: "com.atproto.admin.defs#repoBlobRef", did, cid }, takedown };
    }
    if (uri !== undefined) {
      const record = await recordSubject(uri, (id) => ctx.repo.reader.didOf(id));
      const status = record ? await recordStatus(db, record.uri) : null;
      if (!record || !status) throw notFound();
      return { subject: { $type: "com.atproto.repo.strongRef", uri: record.uri, cid: status.cid }, takedown: status.takedown };
    }
    if (did !== undefined) {
      const status = await accountStatus(db, did);
      if (!status) throw notFound();
      return { subject: { $type: "com.atproto.admin.defs#repoRef", did }, ...status };
    }
    throw new InvalidRequestError("No provided subject");
  },
});
