import { Type } from "@sinclair/typebox";
import { assertIdentity } from "@/auth/permissions";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

const Key = Type.String({ maxLength: 256 });

export default procedure({
  auth: "full",
  oauth: ({ auth }) => assertIdentity(auth, "*"),
  // The same callers as requestPlcOperationSignature: whoever got the code may spend it.
  accountStatus: "any",
  // The lexicon leaves verificationMethods and services open; a PLC operation needs these shapes.
  input: Type.Object({
    token: Type.Optional(Str("printable", { maxLength: 64 })),
    rotationKeys: Type.Optional(Type.Array(Key, { maxItems: 10 })),
    alsoKnownAs: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 20 })),
    verificationMethods: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Key)),
    services: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Object({ type: Type.String({ maxLength: 256 }), endpoint: Type.String({ maxLength: 2048 }) }))),
  }),
  handler: async ({ ctx, auth, input }) => ({ operation: await ctx.accounts.signPlcOperation(auth!.did!, input) }),
});
