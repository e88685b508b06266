import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({ did: Str("did") }),
  handler: async ({ ctx, params }) => {
    const state = await ctx.repo.reader.repoState(params.did);
    if (!state) throw new InvalidRequestError(`Could not find repo for DID: ${params.did}`, "RepoNotFound");
    const { did, active, status, rev } = state;
    // The lexicon sends rev only for active repositories.
    return { did, active, ...(status ? { status } : {}), ...(active ? { rev } : {}) };
  },
});
