import { initial } from "./001-initial";
import { repoIndexes } from "./002-repo-indexes";
import { refreshTokenNextId } from "./003-refresh-token-next-id";
import { accountPref } from "./004-account-pref";
import { deletedAccount } from "./005-deleted-account";
import { emailToken } from "./006-email-token";
import { reservedSigningKey } from "./007-reserved-signing-key";
import { oauth } from "./008-oauth";
import { adminAction } from "./009-admin-action";
import { repoBlockClustered } from "./010-repo-block-clustered";
import type { Migration } from "./types";

export type { Migration } from "./types";

/**
 * Every migration, oldest first, by name. An explicit list rather than a
 * directory scan: the compiled binary carries no source tree. Names are
 * zero-padded so that their text order is their run order; append only.
 */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: Migration]> = [
  ["001-initial", initial],
  ["002-repo-indexes", repoIndexes],
  ["003-refresh-token-next-id", refreshTokenNextId],
  ["004-account-pref", accountPref],
  ["005-deleted-account", deletedAccount],
  ["006-email-token", emailToken],
  ["007-reserved-signing-key", reservedSigningKey],
  ["008-oauth", oauth],
  ["009-admin-action", adminAction],
  ["010-repo-block-clustered", repoBlockClustered],
];
