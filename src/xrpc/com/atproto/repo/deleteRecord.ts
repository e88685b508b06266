import { Type } from "@sinclair/typebox";
import { assertRepo } from "@/auth/permissions";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  oauth: ({ auth, input }) => assertRepo(auth, "delete", input.collection),
  input: Type.Object({
    repo: Str("at-identifier"),
    collection: Str("nsid"),
    rkey: Str("record-key"),
    swapRecord: Type.Optional(Str("cid")),
    swapCommit: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { repo, ...write } = input;
    const did = await ctx.repo.writableRepo(auth?.did, repo);
    return ctx.repo.deleteRecord(did, write);
  },
});
