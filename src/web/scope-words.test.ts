import { describe, expect, test } from "bun:test";
import { describeScopes } from "@/web/scope-words.ts";

describe("describeScopes", () => {
  test.each([
    ["atproto", "Know which account is yours"],
    ["transition:generic", "Full access to your account, like an app password"],
    ["transition:chat.bsky", "Read and send your direct messages"],
    ["transition:email", "See your email address"],
    ["repo:app.bsky.feed.post?action=create", "Create posts in your repository"],
    ["repo:app.bsky.feed.post", "Create, update and delete posts in your repository"],
    ["repo?collection=app.bsky.feed.like&collection=com.example.thing&action=delete", "Delete likes and com.example.thing in your repository"],
    ["repo:*", "Create, update and delete any kind of record in your repository"],
    ["blob:image/*", "Upload image files"],
    ["blob?accept=image/png&accept=video/*", "Upload image/png and video files"],
    ["blob:*/*", "Upload any file"],
    ["rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview", "Call app.bsky.feed.getTimeline on your behalf"],
    ["rpc:*?aud=did:web:api.bsky.app%23bsky_appview", "Call any method on your behalf"],
    ["account:email", "See your email address"],
    ["account:email?action=manage", "Change your email address"],
    ["account:repo?action=manage", "Import data into your repository"],
    ["account:status", "See your account's status"],
    ["identity:handle", "Change your handle"],
    ["identity:*", "Control your identity"],
    ["include:com.example.authFull", "The permissions com.example.authFull asks for"],
  ])("%s", (scope, title) => {
    const [line] = describeScopes(scope);
    expect(line!.title).toBe(title);
  });

  test("rpc names the service; repo names the record types it translated", () => {
    expect(describeScopes("rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview")[0]!.detail).toBe(
      "Service: did:web:api.bsky.app#bsky_appview",
    );
    expect(describeScopes("repo:app.bsky.feed.post")[0]!.detail).toBe("Record types: app.bsky.feed.post");
    expect(describeScopes("repo:com.example.thing")[0]!.detail).toBeUndefined();
  });

  test("unknown or malformed scopes are shown verbatim", () => {
    for (const s of ["made:up", "repo:not-an-nsid", "rpc:*?aud=*", "constructor", "toString", "__proto__", "<b>x</b>"]) {
      expect(describeScopes(s)).toEqual([{ title: s }]);
    }
  });

  test("one line per distinct scope, in order, whatever the whitespace", () => {
    const lines = describeScopes("  atproto   transition:generic\tatproto ");
    expect(lines.map((l) => l.title)).toEqual(["Know which account is yours", "Full access to your account, like an app password"]);
    expect(describeScopes("")).toEqual([]);
  });
});
