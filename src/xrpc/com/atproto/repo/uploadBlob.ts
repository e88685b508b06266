import { assertBlob } from "@/auth/permissions";
import { procedure } from "@/xrpc/method";

/** The body is the blob itself (any Content-Type), streamed to the blob store: no JSON input schema. */
export default procedure({
  // Service auth too, as the reference allows: a service the user asked for a token (getServiceAuth,
  // lxm uploadBlob, aud this PDS), such as a video service, uploads the processed blob for them.
  auth: "access-or-service",
  accountStatus: "deactivated-ok",
  // OAuth: blob:<mime> for the declared type before the upload, and for the stored (sniffed) type after it.
  oauth: ({ auth, request }) => {
    const declared = request.headers.get("content-type");
    if (declared) assertBlob(auth, declared);
  },
  handler: async ({ ctx, auth, request }) => {
    const length = request.headers.get("content-length");
    const blob = await ctx.blobService.upload(
      auth!.did!,
      request.body,
      request.headers.get("content-type"),
      length === null ? undefined : Number(length),
    );
    assertBlob(auth, blob.mimeType);
    return { blob };
  },
});
