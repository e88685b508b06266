import { ScopePermissionsTransition } from "@atproto/oauth-scopes";
import type { Caller } from "@/auth/types";

/**
 * The verified caller an OAuth access token with `scope` (space separated, e.g.
 * `atproto repo:app.bsky.feed.post?action=create`) yields, as the verifier builds it:
 * for unit tests of permission checks without minting tokens.
 */
export function oauthCaller(scope: string, did = "did:plc:oauthcalleraaaaaaaaaaaaa", clientId = "https://client.example/metadata.json"): Caller {
  return { kind: "oauth", did, status: "active", oauth: { clientId, scope, permissions: new ScopePermissionsTransition(scope) } };
}
