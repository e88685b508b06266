import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { wholeNumber } from "./admin-args";
import { printJson, table } from "./admin-output";

export const ACCOUNT_LIST_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  ...ADMIN_OPTIONS,
  limit: { type: "string" },
  cursor: { type: "string" },
};

export const ACCOUNT_LIST_HELP = `Options:
  --limit N               accounts per page, 1 to 1000 (default 100)
  --cursor C              continue after a previous page (the cursor it printed)
${ADMIN_HELP}`;

/** The part of com.atproto.admin.defs#accountView this command shows. */
interface AccountView {
  did: string;
  handle: string;
  email?: string;
  indexedAt: string;
  deactivatedAt?: string;
}

interface RepoEntry {
  did: string;
  active: boolean;
  status?: string;
}

/** getAccountInfos takes the DIDs in the query string: batches keep the URL short. */
const INFO_BATCH = 100;

/**
 * `aurora account list`: one page of the server's repositories
 * (com.atproto.sync.listRepos) with each account's handle and email
 * (com.atproto.admin.getAccountInfos), as a table or `--json`.
 */
export async function accountList(flags: Record<string, unknown>): Promise<number> {
  const limit = wholeNumber(flags.limit, "--limit", 1, 1000) ?? 100;
  const { client } = await adminTarget(flags);
  const page = await client.query<{ repos: RepoEntry[]; cursor?: string }>("com.atproto.sync.listRepos", {
    limit,
    cursor: flags.cursor as string | undefined,
  });
  const infos = new Map<string, AccountView>();
  for (let i = 0; i < page.repos.length; i += INFO_BATCH) {
    const dids = page.repos.slice(i, i + INFO_BATCH).map((r) => r.did);
    const { infos: batch } = await client.query<{ infos: AccountView[] }>("com.atproto.admin.getAccountInfos", { dids }, { admin: true });
    for (const info of batch) infos.set(info.did, info);
  }
  const accounts = page.repos.map((repo) => {
    const info = infos.get(repo.did);
    return {
      did: repo.did,
      handle: info?.handle,
      email: info?.email,
      createdAt: info?.indexedAt,
      active: repo.active,
      status: repo.status ?? (repo.active ? "active" : "inactive"),
    };
  });
  if (flags.json) return printJson({ accounts, ...(page.cursor ? { cursor: page.cursor } : {}) });
  if (accounts.length === 0) {
    process.stdout.write("no accounts\n");
    return 0;
  }
  process.stdout.write(
    table(
      ["HANDLE", "EMAIL", "DID", "STATUS", "CREATED"],
      accounts.map((a) => [a.handle, a.email, a.did, a.status, a.createdAt?.slice(0, 10)]),
    ),
  );
  if (page.cursor && page.repos.length === limit) process.stdout.write(`more: aurora account list --cursor ${page.cursor}\n`);
  return 0;
}
