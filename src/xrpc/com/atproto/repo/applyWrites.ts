import { Type } from "@sinclair/typebox";
import { assertRepoWrites } from "@/auth/permissions";
import { Str } from "@/lexicon/formats";
import type { ApplyWrite } from "@/repo/service";
import { MAX_WRITES } from "@/repo/transactor";
import { repoWritePoints } from "@/rate-limit/rules";
import { procedure } from "@/xrpc/method";

/** `com.atproto.repo.applyWrites#create` → `create`: the repo action a write needs. */
const actionOf = (type: string) => type.slice(type.indexOf("#") + 1) as "create" | "update" | "delete";

const target = { collection: Type.String({ minLength: 1 }), rkey: Type.String({ minLength: 1, maxLength: 512 }) };

export default procedure({
  auth: "access",
  oauth: ({ auth, input }) => assertRepoWrites(auth, input.writes.map((w) => ({ action: actionOf(w.$type), collection: w.collection }))),
  input: Type.Object({
    repo: Str("at-identifier"),
    validate: Type.Optional(Type.Boolean()),
    writes: Type.Array(
      Type.Union([
        Type.Object({
          $type: Type.Literal("com.atproto.repo.applyWrites#create"),
          collection: target.collection,
          rkey: Type.Optional(target.rkey),
          value: Type.Object({}),
        }),
        Type.Object({ $type: Type.Literal("com.atproto.repo.applyWrites#update"), ...target, value: Type.Object({}) }),
        Type.Object({ $type: Type.Literal("com.atproto.repo.applyWrites#delete"), ...target }),
      ]),
      { maxItems: MAX_WRITES },
    ),
    swapCommit: Type.Optional(Str("cid")),
  }),
  handler: async ({ ctx, input, auth }) => {
    const { repo, ...rest } = input;
    const did = await ctx.repo.writableRepo(auth?.did, repo);
    // Like the reference: creates cost 3 points, updates 2, deletes 1, against the DID's hourly and daily budgets.
    await ctx.rateLimits.consumePoints("repo-write", did, repoWritePoints(rest.writes));
    return ctx.repo.applyWrites(did, { ...rest, writes: rest.writes as ApplyWrite[] });
  },
});
