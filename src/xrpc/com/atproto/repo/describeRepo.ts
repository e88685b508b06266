import { getHandle } from "@atproto/common-web";
import { Type } from "@sinclair/typebox";
import { InvalidRequestError } from "@/errors";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  params: Type.Object({ repo: Str("at-identifier") }),
  handler: async ({ ctx, params }) => {
    const did = await ctx.repo.reader.resolveRepo(params.repo);
    const state = await ctx.repo.reader.availableRepo(did);
    const didDoc = await ctx.identity.resolveDid(did);
    if (!didDoc) throw new InvalidRequestError(`Could not resolve DID document: ${did}`);
    const handle = state.handle ?? "handle.invalid";
    return {
      handle,
      did,
      didDoc,
      collections: await ctx.repo.reader.listCollections(did),
      handleIsCorrect: state.handle !== null && getHandle(didDoc) === state.handle,
    };
  },
});
