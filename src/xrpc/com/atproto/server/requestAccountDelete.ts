import { requestAccountDelete } from "@/account/delete-request";
import { procedure } from "@/xrpc/method";

export default procedure({
  auth: "full",
  oauth: "refused",
  accountStatus: "deactivated-ok",
  handler: async ({ ctx, auth }) => {
    await requestAccountDelete(ctx, auth!.did!);
  },
});
