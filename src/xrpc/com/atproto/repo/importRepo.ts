import { assertAccount } from "@/auth/permissions";
import { importRepo } from "@/repo/import";
import { procedure } from "@/xrpc/method";

/** The body is a CAR (application/vnd.ipld.car), streamed: no JSON input schema. */
export default procedure({
  auth: "full",
  oauth: ({ auth }) => assertAccount(auth, "repo", "manage"),
  accountStatus: "deactivated-ok",
  handler: async ({ ctx, auth, request }) => {
    const length = request.headers.get("content-length");
    const deps = { db: ctx.db, blobs: ctx.blobService, identity: ctx.identity, limit: ctx.config.service.maxImportSize };
    await importRepo(deps, auth!.did!, request.body, length === null ? undefined : Number(length));
  },
});
