import { procedure } from "@/xrpc/method";

/** The body is the blob itself (any Content-Type), streamed to the blob store: no JSON input schema. */
export default procedure({
  auth: "access",
  accountStatus: "deactivated-ok",
  handler: async ({ ctx, auth, request }) => {
    const length = request.headers.get("content-length");
    const blob = await ctx.blobService.upload(
      auth!.did!,
      request.body,
      request.headers.get("content-type"),
      length === null ? undefined : Number(length),
    );
    return { blob };
  },
});
