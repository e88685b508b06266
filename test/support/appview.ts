import { IdResolver } from "@atproto/identity";
import { verifyJwt } from "@atproto/xrpc-server";

/** What the test service received for one XRPC call. */
export interface Received {
  readonly method: string;
  readonly nsid: string;
  /** Path and query as they arrived. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The client's TCP port: the same one for calls over one pooled connection. */
  readonly peerPort: number | undefined;
  /** The verified service-auth claims; null when the call had no token. */
  readonly claims: { iss: string; aud: string; lxm?: string; exp: number; jti?: string } | null;
}

export type Route = (request: Request, call: Received) => Response | Promise<Response>;

export interface TestAppView {
  /** `http://localhost:<port>` */
  readonly url: string;
  /** `did:web:localhost%3A<port>`: its document names #bsky_appview, #bsky_chat, #bsky_notif and #atproto_labeler here. */
  readonly did: string;
  readonly received: Received[];
  /** Answer `nsid` with `route` (default: 200 with what was received, as JSON). */
  route(nsid: string, route: Route): void;
  /** The calls to one method. */
  calls(nsid: string): Received[];
  stop(): Promise<void>;
}

/**
 * A stand-in for the AppView, chat, notification and moderation services on
 * a loopback port. Every bearer token is verified with @atproto/xrpc-server's
 * `verifyJwt` (the reference AppView's check), the issuer's key looked up in
 * the PLC directory (@atproto/identity); a bad token is 401 with the verifier's error, as the
 * AppView answers. `aud` must be this service's DID, except for getFeed,
 * whose token is addressed to the feed generator (the AppView skips the
 * audience check there too).
 */
export async function startTestAppView(opts: { plcUrl: string }): Promise<TestAppView> {
  const routes = new Map<string, Route>();
  const received: Received[] = [];
  // The reference AppView's own resolver: it reads the PLC directory's documents in every format it serves.
  const resolver = new IdResolver({ plcUrl: opts.plcUrl });
  const signingKey = (iss: string, forceRefresh: boolean) => resolver.did.resolveAtprotoKey(iss.split("#")[0]!, forceRefresh);

  let did = "";
  let url = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Long enough for the tests that make it wait on purpose.
    idleTimeout: 60,
    async fetch(request, server) {
      const { pathname, search } = new URL(request.url);
      if (pathname === "/.well-known/did.json") return Response.json(didDocument(did, url));
      if (!pathname.startsWith("/xrpc/")) return new Response("not found", { status: 404 });
      const nsid = pathname.slice("/xrpc/".length);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => {
        headers[name] = value;
      });
      const body = Buffer.from(await request.arrayBuffer());
      let claims: Received["claims"] = null;
      const auth = request.headers.get("authorization");
      const peerPort = server.requestIP(request)?.port;
      const call = (c: Received["claims"]): Received => ({ method: request.method, nsid, path: pathname + search, headers, body, peerPort, claims: c });
      if (auth) {
        try {
          const aud = nsid === "app.bsky.feed.getFeed" ? null : did;
          claims = (await verifyJwt(auth.replace(/^Bearer /, ""), aud, nsid === "app.bsky.feed.getFeed" ? null : nsid, signingKey)) as Received["claims"];
        } catch (err) {
          received.push(call(null));
          const e = err as { error?: string; message: string };
          return Response.json({ error: e.error ?? "AuthenticationRequired", message: e.message }, { status: 401 });
        }
      }
      const entry = call(claims);
      received.push(entry);
      const route = routes.get(nsid);
      if (route) return route(request, entry);
      return Response.json({ nsid, claims, method: request.method }, { headers: { "atproto-content-labelers": "did:plc:labeler" } });
    },
  });
  url = `http://localhost:${server.port}`;
  did = `did:web:localhost%3A${server.port}`;
  return {
    url,
    did,
    received,
    route: (nsid, route) => void routes.set(nsid, route),
    calls: (nsid) => received.filter((r) => r.nsid === nsid),
    stop: () => server.stop(true),
  };
}

function didDocument(did: string, url: string) {
  const service = (id: string, type: string) => ({ id: `#${id}`, type, serviceEndpoint: url });
  return {
    "@context": ["https://www.w3.org/ns/did/v1"],
    id: did,
    service: [
      service("bsky_appview", "BskyAppView"),
      service("bsky_chat", "BskyChatService"),
      service("bsky_notif", "BskyNotificationService"),
      service("atproto_labeler", "AtprotoLabeler"),
    ],
  };
}
