import type { AppContext } from "@/app-context";
import { InvalidRequestError } from "@/errors";
import { type AccountView, accountView, searchAccounts } from "./account-view";
import { updatePasswordAsAdmin } from "./accounts";
import { disableInviteCodes, listInviteCodes } from "./invites";
import { logAdminAction } from "./log";
import { accountStatus } from "./subjects";
import { takedownAccount } from "./takedown";
import type { AdminAccountView, AdminUiServices } from "./ui-services";

/** What the admin log names as the actor of the page's actions: the admin password's holder, as for Basic auth. */
const ACTOR = "admin";

/** The admin page's operations, bound to the admin services (src/admin/accounts.ts, invites.ts, takedown.ts). */
export function adminUiServices(ctx: AppContext): AdminUiServices {
  const db = () => ctx.db.db();

  /** The view plus the status the page shows: taken down, deactivated or active. */
  const withStatus = async (view: AccountView): Promise<AdminAccountView> => {
    const state = await accountStatus(db(), view.did);
    const status = state?.takedown.applied ? "takendown" : state?.deactivated.applied ? "deactivated" : "active";
    return {
      did: view.did,
      handle: view.handle === "handle.invalid" ? null : view.handle,
      email: view.email ?? null,
      emailConfirmed: view.emailConfirmedAt !== undefined,
      createdAt: view.indexedAt,
      status,
      ...(state?.takedown.ref ? { takedownRef: state.takedown.ref } : {}),
    };
  };

  const applyTakedown = async (did: string, applied: boolean) => {
    if (!(await takedownAccount(ctx, ACTOR, did, { applied }))) throw new InvalidRequestError("Account not found", "NotFound");
  };

  return {
    async searchAccounts(query, limit) {
      // One box for both: an address is searched by email, anything else by handle and by email.
      const searches = query === "" ? [{}] : query.includes("@") ? [{ email: query }] : [{ handle: query }, { email: query }];
      const pages = await Promise.all(searches.map((s) => searchAccounts(db(), { ...s, limit })));
      const byDid = new Map(pages.flatMap((p) => p.accounts).map((a) => [a.did, a]));
      const views = [...byDid.values()].sort((a, b) => (a.did < b.did ? -1 : 1)).slice(0, limit);
      return Promise.all(views.map(withStatus));
    },
    async accountInfo(did) {
      if (!(await accountStatus(db(), did))) return null;
      return withStatus(await accountView(db(), did));
    },
    takedown: (did) => applyTakedown(did, true),
    untakedown: (did) => applyTakedown(did, false),
    setPassword: (did, password) => updatePasswordAsAdmin(ctx, ACTOR, did, password),
    async createInvite(useCount) {
      const [created] = await ctx.accounts.createInviteCodes({ codeCount: 1, useCount });
      const code = created!.codes[0]!;
      await logAdminAction(db(), { actor: ACTOR, action: "create-invite-code", subjectType: "invite", subject: code, detail: { useCount } });
      return code;
    },
    disableInvite: (code) => disableInviteCodes(ctx.db, ACTOR, { codes: [code], accounts: [] }),
    async listInvites(limit) {
      const page = await listInviteCodes(db(), { sort: "recent", limit });
      return page.codes.map((c) => ({ code: c.code, available: Math.max(0, c.available - c.uses.length), uses: c.uses.length, disabled: c.disabled, forAccount: c.forAccount, createdAt: c.createdAt }));
    },
  };
}
