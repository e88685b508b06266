import type { XrpcMethod } from "@/xrpc/method";
import deleteAccount from "@/xrpc/com/atproto/admin/deleteAccount";
import disableAccountInvites from "@/xrpc/com/atproto/admin/disableAccountInvites";
import disableInviteCodes from "@/xrpc/com/atproto/admin/disableInviteCodes";
import enableAccountInvites from "@/xrpc/com/atproto/admin/enableAccountInvites";
import getAccountInfo from "@/xrpc/com/atproto/admin/getAccountInfo";
import getAccountInfos from "@/xrpc/com/atproto/admin/getAccountInfos";
import getInviteCodes from "@/xrpc/com/atproto/admin/getInviteCodes";
import searchAccounts from "@/xrpc/com/atproto/admin/searchAccounts";
import sendEmail from "@/xrpc/com/atproto/admin/sendEmail";
import updateAccountEmail from "@/xrpc/com/atproto/admin/updateAccountEmail";
import updateAccountHandle from "@/xrpc/com/atproto/admin/updateAccountHandle";
import updateAccountPassword from "@/xrpc/com/atproto/admin/updateAccountPassword";
import checkSignupQueue from "@/xrpc/com/atproto/temp/checkSignupQueue";

/** The account-administration methods, to mount beside the route table until it lists them. */
export const ADMIN_ACCOUNT_METHODS: Readonly<Record<string, XrpcMethod>> = {
  "com.atproto.admin.deleteAccount": deleteAccount,
  "com.atproto.admin.disableAccountInvites": disableAccountInvites,
  "com.atproto.admin.disableInviteCodes": disableInviteCodes,
  "com.atproto.admin.enableAccountInvites": enableAccountInvites,
  "com.atproto.admin.getAccountInfo": getAccountInfo,
  "com.atproto.admin.getAccountInfos": getAccountInfos,
  "com.atproto.admin.getInviteCodes": getInviteCodes,
  "com.atproto.admin.searchAccounts": searchAccounts,
  "com.atproto.admin.sendEmail": sendEmail,
  "com.atproto.admin.updateAccountEmail": updateAccountEmail,
  "com.atproto.admin.updateAccountHandle": updateAccountHandle,
  "com.atproto.admin.updateAccountPassword": updateAccountPassword,
  "com.atproto.temp.checkSignupQueue": checkSignupQueue,
};
