import type { XrpcMethod } from "./method";
import getPreferences from "./app/bsky/actor/getPreferences";
import putPreferences from "./app/bsky/actor/putPreferences";
import deleteAccountAdmin from "./com/atproto/admin/deleteAccount";
import disableAccountInvites from "./com/atproto/admin/disableAccountInvites";
import disableInviteCodes from "./com/atproto/admin/disableInviteCodes";
import enableAccountInvites from "./com/atproto/admin/enableAccountInvites";
import getAccountInfo from "./com/atproto/admin/getAccountInfo";
import getAccountInfos from "./com/atproto/admin/getAccountInfos";
import getInviteCodes from "./com/atproto/admin/getInviteCodes";
import getSubjectStatus from "./com/atproto/admin/getSubjectStatus";
import searchAccounts from "./com/atproto/admin/searchAccounts";
import sendEmail from "./com/atproto/admin/sendEmail";
import updateAccountEmail from "./com/atproto/admin/updateAccountEmail";
import updateAccountHandle from "./com/atproto/admin/updateAccountHandle";
import updateAccountPassword from "./com/atproto/admin/updateAccountPassword";
import updateSubjectStatus from "./com/atproto/admin/updateSubjectStatus";
import getRecommendedDidCredentials from "./com/atproto/identity/getRecommendedDidCredentials";
import requestPlcOperationSignature from "./com/atproto/identity/requestPlcOperationSignature";
import resolveHandle from "./com/atproto/identity/resolveHandle";
import signPlcOperation from "./com/atproto/identity/signPlcOperation";
import submitPlcOperation from "./com/atproto/identity/submitPlcOperation";
import updateHandle from "./com/atproto/identity/updateHandle";
import applyWrites from "./com/atproto/repo/applyWrites";
import createRecord from "./com/atproto/repo/createRecord";
import deleteRecord from "./com/atproto/repo/deleteRecord";
import describeRepo from "./com/atproto/repo/describeRepo";
import getRecord from "./com/atproto/repo/getRecord";
import importRepo from "./com/atproto/repo/importRepo";
import listMissingBlobs from "./com/atproto/repo/listMissingBlobs";
import listRecords from "./com/atproto/repo/listRecords";
import putRecord from "./com/atproto/repo/putRecord";
import uploadBlob from "./com/atproto/repo/uploadBlob";
import activateAccount from "./com/atproto/server/activateAccount";
import checkAccountStatus from "./com/atproto/server/checkAccountStatus";
import confirmEmail from "./com/atproto/server/confirmEmail";
import createAccount from "./com/atproto/server/createAccount";
import createAppPassword from "./com/atproto/server/createAppPassword";
import createInviteCode from "./com/atproto/server/createInviteCode";
import createInviteCodes from "./com/atproto/server/createInviteCodes";
import createSession from "./com/atproto/server/createSession";
import deactivateAccount from "./com/atproto/server/deactivateAccount";
import deleteAccount from "./com/atproto/server/deleteAccount";
import deleteSession from "./com/atproto/server/deleteSession";
import describeServer from "./com/atproto/server/describeServer";
import getAccountInviteCodes from "./com/atproto/server/getAccountInviteCodes";
import getServiceAuth from "./com/atproto/server/getServiceAuth";
import getSession from "./com/atproto/server/getSession";
import listAppPasswords from "./com/atproto/server/listAppPasswords";
import refreshSession from "./com/atproto/server/refreshSession";
import requestAccountDelete from "./com/atproto/server/requestAccountDelete";
import requestEmailConfirmation from "./com/atproto/server/requestEmailConfirmation";
import requestEmailUpdate from "./com/atproto/server/requestEmailUpdate";
import requestPasswordReset from "./com/atproto/server/requestPasswordReset";
import reserveSigningKey from "./com/atproto/server/reserveSigningKey";
import resetPassword from "./com/atproto/server/resetPassword";
import revokeAppPassword from "./com/atproto/server/revokeAppPassword";
import updateEmail from "./com/atproto/server/updateEmail";
import getBlob from "./com/atproto/sync/getBlob";
import getBlocks from "./com/atproto/sync/getBlocks";
import getLatestCommit from "./com/atproto/sync/getLatestCommit";
import syncGetRecord from "./com/atproto/sync/getRecord";
import getRepo from "./com/atproto/sync/getRepo";
import getRepoStatus from "./com/atproto/sync/getRepoStatus";
import listBlobs from "./com/atproto/sync/listBlobs";
import listRepos from "./com/atproto/sync/listRepos";
import subscribeRepos from "./com/atproto/sync/subscribeRepos";
import checkSignupQueue from "./com/atproto/temp/checkSignupQueue";

/**
 * Every XRPC method Aurora serves, by NSID: the whole API surface on one
 * screen. Handler files live at the NSID's path under src/xrpc/.
 */
export const methods: Readonly<Record<string, XrpcMethod>> = {
  "app.bsky.actor.getPreferences": getPreferences,
  "app.bsky.actor.putPreferences": putPreferences,
  "com.atproto.admin.deleteAccount": deleteAccountAdmin,
  "com.atproto.admin.disableAccountInvites": disableAccountInvites,
  "com.atproto.admin.disableInviteCodes": disableInviteCodes,
  "com.atproto.admin.enableAccountInvites": enableAccountInvites,
  "com.atproto.admin.getAccountInfo": getAccountInfo,
  "com.atproto.admin.getAccountInfos": getAccountInfos,
  "com.atproto.admin.getInviteCodes": getInviteCodes,
  "com.atproto.admin.getSubjectStatus": getSubjectStatus,
  "com.atproto.admin.searchAccounts": searchAccounts,
  "com.atproto.admin.sendEmail": sendEmail,
  "com.atproto.admin.updateAccountEmail": updateAccountEmail,
  "com.atproto.admin.updateAccountHandle": updateAccountHandle,
  "com.atproto.admin.updateAccountPassword": updateAccountPassword,
  "com.atproto.admin.updateSubjectStatus": updateSubjectStatus,
  "com.atproto.identity.getRecommendedDidCredentials": getRecommendedDidCredentials,
  "com.atproto.identity.requestPlcOperationSignature": requestPlcOperationSignature,
  "com.atproto.identity.resolveHandle": resolveHandle,
  "com.atproto.identity.signPlcOperation": signPlcOperation,
  "com.atproto.identity.submitPlcOperation": submitPlcOperation,
  "com.atproto.identity.updateHandle": updateHandle,
  "com.atproto.repo.applyWrites": applyWrites,
  "com.atproto.repo.createRecord": createRecord,
  "com.atproto.repo.deleteRecord": deleteRecord,
  "com.atproto.repo.describeRepo": describeRepo,
  "com.atproto.repo.getRecord": getRecord,
  "com.atproto.repo.importRepo": importRepo,
  "com.atproto.repo.listMissingBlobs": listMissingBlobs,
  "com.atproto.repo.listRecords": listRecords,
  "com.atproto.repo.putRecord": putRecord,
  "com.atproto.repo.uploadBlob": uploadBlob,
  "com.atproto.server.activateAccount": activateAccount,
  "com.atproto.server.checkAccountStatus": checkAccountStatus,
  "com.atproto.server.confirmEmail": confirmEmail,
  "com.atproto.server.createAccount": createAccount,
  "com.atproto.server.createAppPassword": createAppPassword,
  "com.atproto.server.createInviteCode": createInviteCode,
  "com.atproto.server.createInviteCodes": createInviteCodes,
  "com.atproto.server.createSession": createSession,
  "com.atproto.server.deactivateAccount": deactivateAccount,
  "com.atproto.server.deleteAccount": deleteAccount,
  "com.atproto.server.deleteSession": deleteSession,
  "com.atproto.server.describeServer": describeServer,
  "com.atproto.server.getAccountInviteCodes": getAccountInviteCodes,
  "com.atproto.server.getServiceAuth": getServiceAuth,
  "com.atproto.server.getSession": getSession,
  "com.atproto.server.listAppPasswords": listAppPasswords,
  "com.atproto.server.refreshSession": refreshSession,
  "com.atproto.server.requestAccountDelete": requestAccountDelete,
  "com.atproto.server.requestEmailConfirmation": requestEmailConfirmation,
  "com.atproto.server.requestEmailUpdate": requestEmailUpdate,
  "com.atproto.server.requestPasswordReset": requestPasswordReset,
  "com.atproto.server.reserveSigningKey": reserveSigningKey,
  "com.atproto.server.resetPassword": resetPassword,
  "com.atproto.server.revokeAppPassword": revokeAppPassword,
  "com.atproto.server.updateEmail": updateEmail,
  "com.atproto.sync.getBlob": getBlob,
  "com.atproto.sync.getBlocks": getBlocks,
  "com.atproto.sync.getLatestCommit": getLatestCommit,
  "com.atproto.sync.getRecord": syncGetRecord,
  "com.atproto.sync.getRepo": getRepo,
  "com.atproto.sync.getRepoStatus": getRepoStatus,
  "com.atproto.sync.listBlobs": listBlobs,
  "com.atproto.sync.listRepos": listRepos,
  "com.atproto.sync.subscribeRepos": subscribeRepos,
  "com.atproto.temp.checkSignupQueue": checkSignupQueue,
};
