import { Type } from "@sinclair/typebox";
import { assertRepo } from "@/auth/permissions";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ auth, input }) => assertRepo(auth, "create", input.collection),
  input: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    rkey: Type.Optional(Str("record-key")),
    validate: Type.Optional(Type.Boolean()),
    record: Type.Object({}),
    swapCommit: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { repo, ...write } = input;
    const did = await ctx.repo.writableRepo(auth?.did, repo);
    return ctx.repo.createRecord(did, write);
  },
});
