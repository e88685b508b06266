import { describe, expect, test } from "bun:test";
import type { AppContext } from "@/app-context";
import {
  MissingScopeError,
  OAUTH_NOT_SUPPORTED,
  appViewAudience,
  assertAccount,
  assertBlob,
  assertIdentity,
  assertRepo,
  assertRepoWrites,
  assertRpc,
  canReadEmail,
  refuseOAuth,
} from "@/auth/permissions";
import type { AuthMode, Caller } from "@/auth/types";
import { ForbiddenError, XrpcError } from "@/errors";
import { dispatch } from "@/http/xrpc";
import { methods } from "@/xrpc";
import { type OAuthRule, type XrpcCall, procedure } from "@/xrpc/method";
import { type Static, Type } from "@sinclair/typebox";
import { oauthCaller } from "@test/support/oauth-caller";

const APPVIEW = "did:web:api.bsky.app#bsky_appview";
const SCOPES = {
  bare: "atproto",
  generic: "atproto transition:generic",
  post: "atproto repo:app.bsky.feed.post?action=create blob:image/*",
  timeline: "atproto rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview",
  emailHandle: "atproto account:email identity:handle",
} as const;
type ScopeName = keyof typeof SCOPES;

/** One check per row: the helper call and the scope an OAuth token lacking it is told it needs. */
const CHECKS: Record<string, { run: (c: Caller | null) => void; needs: string }> = {
  "create a post": { run: (c) => assertRepo(c, "create", "app.bsky.feed.post"), needs: "repo:app.bsky.feed.post?action=create" },
  "delete a post": { run: (c) => assertRepo(c, "delete", "app.bsky.feed.post"), needs: "repo:app.bsky.feed.post?action=delete" },
  "create a like": { run: (c) => assertRepo(c, "create", "app.bsky.feed.like"), needs: "repo:app.bsky.feed.like?action=create" },
  "upload a PNG": { run: (c) => assertBlob(c, "image/png"), needs: "blob:image/png" },
  "upload a PNG (type with parameters, upper case)": { run: (c) => assertBlob(c, "Image/PNG; q=1"), needs: "blob:image/png" },
  "upload a video": { run: (c) => assertBlob(c, "video/mp4"), needs: "blob:video/mp4" },
  "getTimeline of the AppView": { run: (c) => assertRpc(c, "app.bsky.feed.getTimeline", APPVIEW), needs: "rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview" },
  "getTimeline of another AppView": {
    run: (c) => assertRpc(c, "app.bsky.feed.getTimeline", "did:web:other.example#bsky_appview"),
    needs: "rpc:app.bsky.feed.getTimeline?aud=did:web:other.example%23bsky_appview",
  },
  "getProfile of the AppView": { run: (c) => assertRpc(c, "app.bsky.actor.getProfile", APPVIEW), needs: "rpc:app.bsky.actor.getProfile?aud=did:web:api.bsky.app%23bsky_appview" },
  "a chat method": { run: (c) => assertRpc(c, "chat.bsky.convo.listConvos", "did:web:api.bsky.chat#bsky_chat"), needs: "rpc:chat.bsky.convo.listConvos?aud=did:web:api.bsky.chat%23bsky_chat" },
  "any method of a service (method-less service auth)": { run: (c) => assertRpc(c, "*", APPVIEW), needs: "rpc:*?aud=did:web:api.bsky.app%23bsky_appview" },
  "read the email": { run: (c) => assertAccount(c, "email", "read"), needs: "account:email" },
  "change the email": { run: (c) => assertAccount(c, "email", "manage"), needs: "account:email?action=manage" },
  "import a repo": { run: (c) => assertAccount(c, "repo", "manage"), needs: "account:repo?action=manage" },
  "change the handle": { run: (c) => assertIdentity(c, "handle"), needs: "identity:handle" },
  "sign PLC operations": { run: (c) => assertIdentity(c, "*"), needs: "identity:*" },
};

/** What each scope grants; every other check must fail with its `needs`. */
const GRANTS: Record<ScopeName, readonly string[]> = {
  bare: [],
  // transition:generic stands for repo, blob and rpc (but chat) permissions; account and identity need their own scopes.
  generic: [
    "create a post",
    "delete a post",
    "create a like",
    "upload a PNG",
    "upload a PNG (type with parameters, upper case)",
    "upload a video",
    "getTimeline of the AppView",
    "getTimeline of another AppView",
    "getProfile of the AppView",
    "any method of a service (method-less service auth)",
  ],
  post: ["create a post", "upload a PNG", "upload a PNG (type with parameters, upper case)"],
  timeline: ["getTimeline of the AppView"],
  emailHandle: ["read the email", "change the handle"],
};

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
};

describe("the helpers on real ScopePermissionsTransition grants", () => {
  const rows = (Object.keys(SCOPES) as ScopeName[]).flatMap((scope) => Object.keys(CHECKS).map((check) => [SCOPES[scope], check, GRANTS[scope].includes(check)] as const));
  test.each(rows)("%s: %s → allowed %p", (scope, check, allowed) => {
    const err = thrown(() => CHECKS[check]!.run(oauthCaller(scope)));
    if (allowed) {
      expect(err).toBeNull();
      return;
    }
    expect(err).toBeInstanceOf(MissingScopeError);
    const e = err as MissingScopeError;
    expect({ status: e.status, error: e.error, scope: e.scope }).toEqual({ status: 403, error: "ScopeMissingError", scope: CHECKS[check]!.needs });
    expect(e.toJSON()).toEqual({ error: "ScopeMissingError", message: `Missing required scope "${CHECKS[check]!.needs}"` });
  });

  const others: [string, Caller | null][] = [
    ["no caller", null],
    ["a full session", { kind: "access", did: "did:plc:a" }],
    ["an app password", { kind: "appPass", did: "did:plc:a", tokenId: "app" }],
    ["a privileged app password", { kind: "appPassPrivileged", did: "did:plc:a" }],
    ["service auth", { kind: "service", did: "did:plc:a", iss: "did:plc:a", lxm: "com.atproto.repo.uploadBlob" }],
    ["the admin", { kind: "admin" }],
  ];
  test.each(others)("%s: every check is a no-op, refuseOAuth too, and the email is readable", (_name, caller) => {
    for (const { run } of Object.values(CHECKS)) expect(thrown(() => run(caller))).toBeNull();
    expect(thrown(() => refuseOAuth(caller))).toBeNull();
    expect(thrown(() => assertRepoWrites(caller, [{ action: "delete", collection: "app.bsky.feed.post" }]))).toBeNull();
    expect(canReadEmail(caller)).toBe(true);
  });

  test.each(Object.values(SCOPES))("refuseOAuth refuses %s with 403 Forbidden, whatever the scopes", (scope) => {
    const err = thrown(() => refuseOAuth(oauthCaller(scope)));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as XrpcError).toJSON()).toEqual({ error: "Forbidden", message: OAUTH_NOT_SUPPORTED });
  });

  test.each([
    ["atproto", false],
    ["atproto transition:generic", false],
    ["atproto transition:email", true],
    ["atproto account:email", true],
    ["atproto account:email?action=manage", true],
  ] as const)("canReadEmail(%s) is %p", (scope, readable) => {
    expect(canReadEmail(oauthCaller(scope))).toBe(readable);
  });

  test("assertRepoWrites checks each distinct action/collection pair and names the first one missing", () => {
    const caller = oauthCaller("atproto repo:app.bsky.feed.post?action=create&action=update");
    const post = (action: "create" | "update" | "delete") => ({ action, collection: "app.bsky.feed.post" });
    expect(thrown(() => assertRepoWrites(caller, [post("create"), post("update"), post("create")]))).toBeNull();
    const err = thrown(() => assertRepoWrites(caller, [post("create"), post("delete"), { action: "create", collection: "app.bsky.graph.follow" }]));
    expect((err as MissingScopeError).scope).toBe("repo:app.bsky.feed.post?action=delete");
  });

  test("an rpc grant for any audience covers a call whose audience is unknown (\"*\"); one for a named audience does not", () => {
    const lxm = "app.bsky.actor.getPreferences";
    expect(thrown(() => assertRpc(oauthCaller(`atproto rpc:${lxm}?aud=*`), lxm, "*"))).toBeNull();
    expect(thrown(() => assertRpc(oauthCaller("atproto transition:generic"), lxm, "*"))).toBeNull();
    expect((thrown(() => assertRpc(oauthCaller(`atproto rpc:${lxm}?aud=did:web:api.bsky.app%23bsky_appview`), lxm, "*")) as MissingScopeError).scope).toBe(`rpc:${lxm}?aud=*`);
  });

  test("appViewAudience: the configured AppView as did#bsky_appview, else any audience", () => {
    expect(appViewAudience({ appView: { did: "did:web:api.bsky.app" } })).toBe(APPVIEW);
    expect(appViewAudience({})).toBe("*");
  });
});

// ---------------------------------------------------------------------------
// The route table: every method that takes access tokens says what OAuth needs.

/** Modes whose callers may hold an OAuth access token. */
const TOKEN_MODES: ReadonlySet<AuthMode> = new Set(["optional", "access", "privileged", "full", "access-or-service"]);

/** Methods the `atproto` scope alone may call: the caller's own session and status, and reads. */
const ATPROTO_ONLY = [
  "com.atproto.identity.getRecommendedDidCredentials",
  "com.atproto.repo.listMissingBlobs",
  "com.atproto.server.checkAccountStatus",
  "com.atproto.server.getSession",
  "com.atproto.sync.getBlob",
  "com.atproto.sync.getBlocks",
  "com.atproto.sync.getLatestCommit",
  "com.atproto.sync.getRecord",
  "com.atproto.sync.getRepo",
  "com.atproto.sync.listBlobs",
];

/** Methods no OAuth token may call (as the reference refuses them): credentials, deletion, activation, email changes, invites. */
const REFUSED = [
  "com.atproto.server.activateAccount",
  "com.atproto.server.createAppPassword",
  "com.atproto.server.deactivateAccount",
  "com.atproto.server.getAccountInviteCodes",
  "com.atproto.server.listAppPasswords",
  "com.atproto.server.requestAccountDelete",
  "com.atproto.server.requestEmailUpdate",
  "com.atproto.server.revokeAppPassword",
  "com.atproto.server.updateEmail",
  "com.atproto.temp.checkSignupQueue",
];

const withAppView = { config: { appView: { did: "did:web:api.bsky.app", url: "http://127.0.0.1:1" } } } as unknown as AppContext;
const withoutAppView = { config: {} } as unknown as AppContext;
const blobRequest = (type: string) => new Request("http://localhost/xrpc/com.atproto.repo.uploadBlob", { method: "POST", headers: { "content-type": type } });
const write = (type: string, collection: string) => ({ $type: `com.atproto.repo.applyWrites#${type}`, collection, rkey: "3k", value: {} });

/**
 * Methods with a check of their own: a call, a scope that grants it, and the scope a bare
 * `atproto` token is told it needs; `generic` says whether transition:generic grants it.
 */
const CHECKED: Record<string, { call: Partial<XrpcCall<any, any>>; grants: string; needs: string; generic: boolean }> = {
  "app.bsky.actor.getPreferences": {
    call: { ctx: withAppView },
    grants: "atproto rpc:app.bsky.actor.getPreferences?aud=did:web:api.bsky.app%23bsky_appview",
    needs: "rpc:app.bsky.actor.getPreferences?aud=did:web:api.bsky.app%23bsky_appview",
    generic: true,
  },
  "app.bsky.actor.putPreferences": {
    call: { ctx: withoutAppView, input: { preferences: [] } },
    grants: "atproto rpc:app.bsky.actor.putPreferences?aud=*",
    needs: "rpc:app.bsky.actor.putPreferences?aud=*",
    generic: true,
  },
  "com.atproto.identity.requestPlcOperationSignature": { call: {}, grants: "atproto identity:*", needs: "identity:*", generic: false },
  "com.atproto.identity.signPlcOperation": { call: { input: {} }, grants: "atproto identity:*", needs: "identity:*", generic: false },
  "com.atproto.identity.submitPlcOperation": { call: { input: { operation: {} } }, grants: "atproto identity:*", needs: "identity:*", generic: false },
  "com.atproto.identity.updateHandle": { call: { input: { handle: "a.test" } }, grants: "atproto identity:handle", needs: "identity:handle", generic: false },
  "com.atproto.repo.applyWrites": {
    call: { input: { repo: "did:plc:a", writes: [write("create", "app.bsky.feed.post"), write("update", "app.bsky.actor.profile"), write("delete", "app.bsky.feed.post")] } },
    grants: "atproto repo:app.bsky.feed.post?action=create&action=delete repo:app.bsky.actor.profile?action=update",
    needs: "repo:app.bsky.feed.post?action=create",
    generic: true,
  },
  "com.atproto.repo.createRecord": {
    call: { input: { repo: "did:plc:a", collection: "app.bsky.feed.post", record: {} } },
    grants: "atproto repo:app.bsky.feed.post?action=create",
    needs: "repo:app.bsky.feed.post?action=create",
    generic: true,
  },
  "com.atproto.repo.putRecord": {
    call: { input: { repo: "did:plc:a", collection: "app.bsky.actor.profile", rkey: "self", record: {} } },
    grants: "atproto repo:app.bsky.actor.profile?action=create&action=update",
    needs: "repo:app.bsky.actor.profile?action=create",
    generic: true,
  },
  "com.atproto.repo.deleteRecord": {
    call: { input: { repo: "did:plc:a", collection: "app.bsky.feed.like", rkey: "3k" } },
    grants: "atproto repo:app.bsky.feed.like?action=delete",
    needs: "repo:app.bsky.feed.like?action=delete",
    generic: true,
  },
  "com.atproto.repo.importRepo": { call: {}, grants: "atproto account:repo?action=manage", needs: "account:repo?action=manage", generic: false },
  "com.atproto.repo.uploadBlob": { call: { request: blobRequest("image/jpeg") }, grants: "atproto blob:image/*", needs: "blob:image/jpeg", generic: true },
  "com.atproto.server.confirmEmail": { call: { input: { email: "a@example.com", token: "t" } }, grants: "atproto account:email?action=manage", needs: "account:email?action=manage", generic: false },
  "com.atproto.server.requestEmailConfirmation": { call: {}, grants: "atproto account:email?action=manage", needs: "account:email?action=manage", generic: false },
  "com.atproto.server.getServiceAuth": {
    call: { params: { aud: "did:web:video.bsky.app#bsky_video", lxm: "app.bsky.video.getUploadLimits" } },
    grants: "atproto rpc:app.bsky.video.getUploadLimits?aud=did:web:video.bsky.app%23bsky_video",
    needs: "rpc:app.bsky.video.getUploadLimits?aud=did:web:video.bsky.app%23bsky_video",
    generic: true,
  },
};

const sorted = (xs: Iterable<string>) => [...xs].sort();
const ruleOf = (nsid: string) => methods[nsid]!.oauth;
const tokenMethods = Object.keys(methods).filter((nsid) => TOKEN_MODES.has(methods[nsid]!.auth ?? "none"));

describe("the route table declares what OAuth needs", () => {
  test("every method taking access tokens declares an oauth rule; no other method does", () => {
    const undeclared = tokenMethods.filter((nsid) => ruleOf(nsid) === undefined);
    expect(undeclared).toEqual([]);
    const stray = Object.keys(methods).filter((nsid) => !TOKEN_MODES.has(methods[nsid]!.auth ?? "none") && ruleOf(nsid) !== undefined);
    expect(stray).toEqual([]);
  });

  test("the methods open to the atproto scope alone are exactly the listed ones", () => {
    expect(sorted(tokenMethods.filter((nsid) => ruleOf(nsid) === "atproto"))).toEqual(sorted(ATPROTO_ONLY));
  });

  test("the methods refused to OAuth are exactly the listed ones", () => {
    expect(sorted(tokenMethods.filter((nsid) => ruleOf(nsid) === "refused"))).toEqual(sorted(REFUSED));
  });

  test("every method with a check of its own has a row below", () => {
    expect(sorted(tokenMethods.filter((nsid) => typeof ruleOf(nsid) === "function"))).toEqual(sorted(Object.keys(CHECKED)));
  });

  const run = (nsid: string, scope: string) => {
    const rule = ruleOf(nsid) as (call: XrpcCall<any, any>) => void;
    const { call } = CHECKED[nsid]!;
    return thrown(() => rule({ params: {}, input: undefined, request: new Request("http://localhost/"), ip: "127.0.0.1", upgrade: () => false, ...call, auth: oauthCaller(scope) } as XrpcCall<any, any>));
  };
  test.each(Object.keys(CHECKED))("%s: its scope grants it, atproto alone is told what it needs, transition:generic as the reference", (nsid) => {
    const row = CHECKED[nsid]!;
    expect(run(nsid, row.grants)).toBeNull();
    expect((run(nsid, "atproto") as MissingScopeError).scope).toBe(row.needs);
    const generic = run(nsid, "atproto transition:generic");
    if (row.generic) expect(generic).toBeNull();
    else expect((generic as MissingScopeError).scope).toBe(row.needs);
  });
});

describe("handlers that shape or re-check for OAuth", () => {
  test("getSession leaves the email out unless the grant reads it", async () => {
    const view = { did: "did:plc:a", handle: "a.test", email: "a@example.com", emailConfirmed: true, emailAuthFactor: false, active: true };
    const ctx = { accounts: { getSession: async () => view } } as unknown as AppContext;
    const get = (auth: Caller) => methods["com.atproto.server.getSession"]!.handler({ ctx, auth } as XrpcCall<any, any>);
    expect(await get(oauthCaller("atproto transition:generic"))).toEqual({ did: "did:plc:a", handle: "a.test", active: true });
    expect(await get(oauthCaller("atproto account:email"))).toEqual(view);
    expect(await get({ kind: "appPass", did: "did:plc:a" })).toEqual(view);
  });

  test("uploadBlob checks the stored (sniffed) type too: a video declared as an image is refused", async () => {
    const blob = { $type: "blob", ref: { $link: "bafk" }, mimeType: "video/mp4", size: 3 };
    const ctx = { blobService: { upload: async () => blob } } as unknown as AppContext;
    const upload = (auth: Caller) =>
      methods["com.atproto.repo.uploadBlob"]!.handler({ ctx, auth, request: blobRequest("image/png") } as XrpcCall<any, any>);
    const err = await Promise.resolve(upload(oauthCaller("atproto blob:image/*"))).catch((e: unknown) => e);
    expect((err as MissingScopeError).scope).toBe("blob:video/mp4");
    expect(await upload(oauthCaller("atproto blob:image/* blob:video/*"))).toEqual({ blob });
    expect(await upload({ kind: "access", did: "did:plc:a" })).toEqual({ blob });
  });
});

// ---------------------------------------------------------------------------
// dispatch: the gate and the check run before the handler, for OAuth callers only.

describe("dispatch", () => {
  const ran: string[] = [];
  const Input = Type.Object({ collection: Type.String() });
  const guarded = (oauth: OAuthRule<XrpcCall<{}, Static<typeof Input>>> | undefined) =>
    procedure({
      auth: "access",
      oauth,
      input: Input,
      handler: ({ input }) => {
        ran.push(input.collection);
        return { ok: true };
      },
    });
  const fakeCtx = (caller: Caller) =>
    ({ auth: { verify: async () => caller }, config: { service: { maxJsonBodyBytes: 1024 } } }) as unknown as AppContext;
  const post = (collection: string) =>
    new Request("http://localhost/xrpc/io.example.write", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ collection }) });
  const send = (method: ReturnType<typeof guarded>, caller: Caller, request = post("app.bsky.feed.post")) =>
    dispatch(fakeCtx(caller), "io.example.write", method, request, { ip: "127.0.0.1", upgrade: () => false }).catch((e: unknown) => e);

  test.each([
    ["refused", guarded("refused")],
    ["undeclared", guarded(undefined)],
  ])("%s: an OAuth caller gets 403 Forbidden before the body is read; a password session calls it", async (_name, method) => {
    ran.length = 0;
    const request = post("app.bsky.feed.post");
    const err = await send(method, oauthCaller("atproto transition:generic"), request);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as XrpcError).message).toBe(OAUTH_NOT_SUPPORTED);
    expect(request.bodyUsed).toBe(false);
    expect(ran).toEqual([]);
    expect(((await send(method, { kind: "access", did: "did:plc:a" })) as Response).status).toBe(200);
    expect(ran).toEqual(["app.bsky.feed.post"]);
  });

  test("a rule sees the decoded input; refusing stops the handler, granting lets it run", async () => {
    ran.length = 0;
    const method = guarded(({ auth, input }) => assertRepo(auth, "create", input.collection));
    const err = await send(method, oauthCaller(SCOPES.post), post("app.bsky.feed.like"));
    expect((err as MissingScopeError).scope).toBe("repo:app.bsky.feed.like?action=create");
    expect(ran).toEqual([]);
    expect(((await send(method, oauthCaller(SCOPES.post))) as Response).status).toBe(200);
    expect(ran).toEqual(["app.bsky.feed.post"]);
  });

  test("\"atproto\" lets any OAuth token through; a rule is not run for password sessions", async () => {
    ran.length = 0;
    expect(((await send(guarded("atproto"), oauthCaller("atproto"))) as Response).status).toBe(200);
    let checked = 0;
    const counted = guarded(() => {
      checked++;
    });
    expect(((await send(counted, { kind: "appPass", did: "did:plc:a" })) as Response).status).toBe(200);
    expect(checked).toBe(0);
    expect(ran).toEqual(["app.bsky.feed.post", "app.bsky.feed.post"]);
  });
});
