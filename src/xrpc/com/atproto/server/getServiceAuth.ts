import { Type } from "@sinclair/typebox";
import { assertRpc } from "@/auth/permissions";
import { checkServiceAuthRequest } from "@/auth/service-auth-rules";
import { mintServiceJwt } from "@/auth/service-jwt";
import { Str } from "@/lexicon/formats";
import { query } from "@/xrpc/method";

export default query({
  auth: "access",
  oauth: ({ auth, params }) => assertRpc(auth, params.lxm ?? "*", params.aud),
  // Deactivated accounts may get service auth; taken-down ones only to move out (createAccount elsewhere).
  accountStatus: "any",
  params: Type.Object({
    aud: Type.String({ minLength: 1, maxLength: 2048 }),
    exp: Type.Optional(Type.Integer()),
    lxm: Type.Optional(Str("nsid")),
  }),
  handler: async ({ ctx, auth, params }) => {
    const { aud, exp, lxm } = params;
    checkServiceAuthRequest(auth!, { aud, exp, lxm });
    const key = await ctx.accounts.signingKey(auth!.did!);
    return { token: await mintServiceJwt(key, { iss: auth!.did!, aud, lxm: lxm ?? null, exp }) };
  },
});
