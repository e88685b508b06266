import { Type } from "@sinclair/typebox";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "access",
  input: Type.Object({
    repo: Type.String({ minLength: 1 }),
    collection: Type.String({ minLength: 1 }),
    rkey: Type.String({ minLength: 1, maxLength: 512 }),
    validate: Type.Optional(Type.Boolean()),
    record: Type.Object({}),
    swapRecord: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    swapCommit: Type.Optional(Type.String()),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { repo, ...write } = input;
    const did = await ctx.repo.writableRepo(auth?.did, repo);
    return ctx.repo.putRecord(did, write);
  },
});
