import { Type } from "@sinclair/typebox";
import { assertRepoWrites } from "@/auth/permissions";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  // As the reference: a put may create or replace, so it needs both.
  oauth: ({ auth, input }) => assertRepoWrites(auth, [{ action: "create", collection: input.collection }, { action: "update", collection: input.collection }]),
  input: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    rkey: Str("record-key"),
    validate: Type.Optional(Type.Boolean()),
    record: Type.Object({}),
    swapRecord: Type.Optional(Type.Union([Str("cid"), Type.Null()])),
    swapCommit: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { repo, ...write } = input;
    const did = await ctx.repo.writableRepo(auth?.did, repo);
    return ctx.repo.putRecord(did, write);
  },
});
