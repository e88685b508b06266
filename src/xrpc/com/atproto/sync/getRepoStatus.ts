import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { assertDid } from "@/lexicon/syntax";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({ did: Type.String({ minLength: 1 }) }),
  handler: async ({ ctx, params }) => {
    assertDid(params.did, "did");
    const state = await ctx.repo.reader.repoState(params.did);
    if (!state) throw new InvalidRequestError(`Could not find repo for DID: ${params.did}`, "RepoNotFound");
    const { did, active, status, rev } = state;
    // The lexicon sends rev only for active repositories.
    return { did, active, ...(status ? { status } : {}), ...(active ? { rev } : {}) };
  },
});
