import { getServiceEndpoint } from "@atproto/common-web";
import { isAtprotoDid } from "@/auth/service-ref";
import type { RunConfig } from "@/config/resolve";
import { InvalidRequestError } from "@/errors";
import type { IdentityResolver } from "@/identity/resolver";

/** Where one proxied call goes. */
export interface Target {
  /** The service's DID: the service-auth token's `aud`. */
  readonly did: string;
  /** The DID document's service entry (without `#`). */
  readonly serviceId: string;
  /** The service's endpoint (origin); the call keeps its own `/xrpc/<nsid>?…` path. */
  readonly url: string;
  /** The endpoint came from our config, not from a DID document: private addresses are the operator's choice. */
  readonly configured: boolean;
}

export interface TargetResolver {
  /** The atproto-proxy header's target, else the configured default for the NSID; null when there is neither. */
  resolve(nsid: string, header: string | null): Promise<Target | null>;
  /** The configured default for the NSID (no header involved). */
  byDefault(nsid: string): Target | null;
  /** The configured AppView. */
  readonly appView: Target | null;
  /** A service of a DID by its document: `did#serviceId`, or 400 when the DID or the entry cannot be found. */
  service(did: string, serviceId: string): Promise<Target>;
}

const SERVICE_ID = /^[A-Za-z0-9._~:-]{1,128}$/;

/**
 * `<did>#<service id>` → [did, service id], refused with the reference's
 * messages (400 InvalidRequest). The DID must be one atproto resolves
 * (did:plc, hostname-level did:web), which also keeps odd characters out of
 * everything downstream.
 */
export function parseProxyHeader(header: string): { did: string; serviceId: string } {
  const hash = header.indexOf("#");
  if (hash === 0) throw new InvalidRequestError("no did specified in proxy header");
  if (hash === -1 || hash === header.length - 1) throw new InvalidRequestError("no service id specified in proxy header");
  if (header.indexOf("#", hash + 1) !== -1) throw new InvalidRequestError("invalid proxy header format");
  if (header.includes(" ")) throw new InvalidRequestError("proxy header cannot contain spaces");
  const did = header.slice(0, hash);
  const serviceId = header.slice(hash + 1);
  if (!isAtprotoDid(did)) throw new InvalidRequestError("invalid did in proxy header");
  if (!SERVICE_ID.test(serviceId)) throw new InvalidRequestError("invalid service id in proxy header");
  return { did, serviceId };
}

/**
 * Target resolution. Without a header: the AppView for app.bsky.*, the chat
 * service for chat.bsky.*, the report service for createReport, as
 * configured. With one: a configured service when the header names it
 * exactly (no lookup, its configured URL), else the DID document (cached by
 * the identity resolver) and the named service entry's endpoint.
 */
export function createTargetResolver(config: RunConfig, identity: IdentityResolver): TargetResolver {
  const configured = (service: { url: string; did: string } | undefined, serviceId: string): Target | null =>
    service ? { did: service.did, serviceId, url: service.url, configured: true } : null;
  const known = [
    configured(config.appView, "bsky_appview"),
    configured(config.chat, "bsky_chat"),
    configured(config.reportService, "atproto_labeler"),
  ].filter((t): t is Target => t !== null);

  const byDefault = (nsid: string): Target | null => {
    if (nsid === "com.atproto.moderation.createReport") return configured(config.reportService, "atproto_labeler");
    if (nsid.startsWith("chat.bsky.")) return configured(config.chat, "bsky_chat");
    if (nsid.startsWith("app.bsky.")) return configured(config.appView, "bsky_appview");
    return null;
  };

  const service = async (did: string, serviceId: string): Promise<Target> => {
    const own = known.find((t) => t.did === did && t.serviceId === serviceId);
    if (own) return own;
    const doc = await identity.resolveDid(did);
    if (!doc) throw new InvalidRequestError("could not resolve proxy did");
    const url = getServiceEndpoint(doc, { id: `#${serviceId}` });
    if (!url) throw new InvalidRequestError("could not resolve proxy did service url");
    return { did, serviceId, url, configured: false };
  };

  return {
    byDefault,
    service,
    appView: configured(config.appView, "bsky_appview"),
    async resolve(nsid, header) {
      if (header === null) return byDefault(nsid);
      const { did, serviceId } = parseProxyHeader(header);
      return service(did, serviceId);
    },
  };
}
