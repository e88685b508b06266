import { AccountPermission, BlobPermission, IdentityPermission, IncludeScope, RepoPermission, RpcPermission } from "@atproto/oauth-scopes";

/** One line of the consent page: what a scope lets the app do, in plain words (plain text, not markup). */
export interface ScopeLine {
  title: string;
  detail?: string;
}

// Friendly names for the record types people meet most; any other NSID is shown as is.
const COLLECTIONS: Record<string, string> = {
  "app.bsky.feed.post": "posts",
  "app.bsky.feed.like": "likes",
  "app.bsky.feed.repost": "reposts",
  "app.bsky.graph.follow": "follows",
  "app.bsky.graph.block": "blocks",
  "app.bsky.graph.list": "lists",
  "app.bsky.graph.listitem": "list members",
  "app.bsky.actor.profile": "your profile",
  "app.bsky.feed.threadgate": "reply settings",
  "app.bsky.feed.postgate": "quote settings",
};

const STATIC: Record<string, ScopeLine> = {
  atproto: { title: "Know which account is yours", detail: "Your handle and DID, to sign you in." },
  "transition:generic": {
    title: "Full access to your account, like an app password",
    detail:
      "Post, reply, like, repost, follow and block, upload images and video, edit your profile, " +
      "and read and change your preferences, private ones included. Not your direct messages or your email address.",
  },
  "transition:chat.bsky": { title: "Read and send your direct messages", detail: "Bluesky chat, on your behalf." },
  "transition:email": { title: "See your email address", detail: "And whether it is confirmed." },
};

const ACCOUNT: Record<string, Record<string, string>> = {
  email: { read: "See your email address", manage: "Change your email address" },
  repo: { read: "Read your whole repository", manage: "Import data into your repository" },
  status: { read: "See your account's status", manage: "Activate or deactivate your account" },
};

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function repoLine(p: RepoPermission): ScopeLine {
  const verbs = list([...p.action]);
  const what = p.collection.includes("*")
    ? "any kind of record"
    : list(p.collection.map((c) => (Object.hasOwn(COLLECTIONS, c) ? COLLECTIONS[c]! : c)));
  const nsids = p.collection.filter((c) => Object.hasOwn(COLLECTIONS, c));
  return {
    title: `${capitalise(verbs)} ${what} in your repository`,
    ...(nsids.length > 0 ? { detail: `Record types: ${nsids.join(", ")}` } : {}),
  };
}

function blobLine(p: BlobPermission): ScopeLine {
  const kinds = p.accept.map((m) => (m === "*/*" ? "any file" : m.endsWith("/*") ? `${m.slice(0, -2)} files` : m));
  return { title: `Upload ${list(kinds)}` };
}

function rpcLine(p: RpcPermission): ScopeLine {
  const methods = p.lxm.includes("*") ? "any method" : list([...p.lxm]);
  const service = p.aud === "*" ? "any service" : p.aud;
  return { title: `Call ${methods} on your behalf`, detail: `Service: ${service}` };
}

function accountLine(p: AccountPermission): ScopeLine {
  const titles = p.action.map((a) => ACCOUNT[p.attr]![a]!);
  return { title: titles.join("; ") };
}

function identityLine(p: IdentityPermission): ScopeLine {
  return p.attr === "handle"
    ? { title: "Change your handle" }
    : { title: "Control your identity", detail: "Change your handle and your DID document, including the keys that prove who you are." };
}

// Each granular kind: its parser (null when the scope is malformed) and its wording.
const KINDS: Record<string, (scope: string) => ScopeLine | null> = {
  repo: (s) => map(RepoPermission.fromString(s), repoLine),
  blob: (s) => map(BlobPermission.fromString(s), blobLine),
  rpc: (s) => map(RpcPermission.fromString(s), rpcLine),
  account: (s) => map(AccountPermission.fromString(s), accountLine),
  identity: (s) => map(IdentityPermission.fromString(s), identityLine),
  include: (s) => map(IncludeScope.fromString(s), (p) => ({ title: `The permissions ${p.nsid} asks for` })),
};

function map<T>(value: T | null, f: (v: T) => ScopeLine): ScopeLine | null {
  return value === null ? null : f(value);
}

/** The plain-language line for one scope; one the parser does not know is shown verbatim. */
function describeOne(scope: string): ScopeLine {
  // Own keys only: a scope named "constructor" must not find Object.prototype.
  if (Object.hasOwn(STATIC, scope)) return STATIC[scope]!;
  const kind = scope.split(/[:?]/, 1)[0]!;
  return (Object.hasOwn(KINDS, kind) ? KINDS[kind]!(scope) : null) ?? { title: scope };
}

/**
 * The consent page's lines for a space-separated OAuth `scope`, one per
 * distinct scope in the order asked. Titles and details are plain text.
 */
export function describeScopes(scope: string): ScopeLine[] {
  const scopes = [...new Set(scope.split(/\s+/).filter(Boolean))];
  return scopes.map(describeOne);
}
