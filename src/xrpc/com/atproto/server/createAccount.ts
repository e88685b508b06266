import { Type } from "@sinclair/typebox";
import { Str } from "@/lexicon/formats";
import { procedure } from "@/xrpc/method";

export default procedure({
  // Moving in with an existing `did`: that DID's service auth (lxm createAccount), minted by its current PDS.
  auth: "service-optional",
  input: Type.Object({
    handle: Type.String(),
    email: Type.Optional(Str("printable")),
    password: Type.Optional(Type.String()),
    inviteCode: Type.Optional(Str("printable")),
    recoveryKey: Type.Optional(Type.String()),
    did: Type.Optional(Str("did")),
    plcOp: Type.Optional(Type.Unknown()),
    verificationCode: Type.Optional(Type.String()),
    verificationPhone: Type.Optional(Type.String()),
  }),
  handler: ({ ctx, input, auth }) => {
    const { handle, email, password, inviteCode, recoveryKey, did, plcOp } = input;
    return ctx.accounts.createAccount({ handle, email, password, inviteCode, recoveryKey, did, plcOp, requester: auth?.did });
  },
});
