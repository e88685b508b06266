import { type DidDocument, isValidDidDoc } from "@atproto/common-web";
import { UpstreamUnavailableError } from "@/errors";
import type { PlcClient } from "./plc";
import { type LookupAll, SafeFetchError, safeFetch } from "./safe-fetch";

export interface DidResolverOptions {
  plc: PlcClient;
  /** identity.allowPrivateAddresses: did:web may live on private addresses, and `did:web:localhost%3A<port>` is fetched over http. */
  allowPrivate: boolean;
  /** @default 5000 */
  timeoutMs?: number;
  /** Name resolution and extra CA for did:web (tests). */
  lookup?: LookupAll;
  ca?: string;
}

/** A DID document, or null when the DID does not exist (or is not one atproto supports). Throws a 503 when the source is down. */
export type ResolveDid = (did: string) => Promise<DidDocument | null>;

export function createDidResolver(opts: DidResolverOptions): ResolveDid {
  const webDocument = async (did: string): Promise<unknown> => {
    // atproto allows hostname-level did:web only: did:web:<host>, the port percent-encoded.
    const id = did.slice("did:web:".length);
    if (id.includes(":")) return null;
    const host = decodeURIComponent(id);
    const local = /^localhost(:\d+)?$/.test(host);
    const scheme = local && opts.allowPrivate ? "http" : "https";
    try {
      const res = await safeFetch(`${scheme}://${host}/.well-known/did.json`, {
        allowPrivate: opts.allowPrivate,
        timeoutMs: opts.timeoutMs ?? 5000,
        maxBytes: 64 * 1024,
        headers: { accept: "application/did+json, application/json" },
        lookup: opts.lookup,
        ca: opts.ca,
      });
      if (res.status === 404 || res.status === 410) return null;
      if (res.status !== 200) throw new UpstreamUnavailableError(`did:web host ${host} answered ${res.status}`);
      return res.json();
    } catch (err) {
      // A refused or oversized target is not a DID we can use; an unreachable one may come back.
      if (err instanceof SafeFetchError) {
        if (err.reason === "blocked" || err.reason === "too-large" || err.reason === "protocol") return null;
        throw new UpstreamUnavailableError(`could not fetch ${did}: ${err.message}`, { cause: err });
      }
      if (err instanceof SyntaxError) return null;
      throw err;
    }
  };

  return async (did) => {
    let doc: unknown;
    if (/^did:plc:[a-z2-7]{24}$/.test(did)) doc = await opts.plc.getDocument(did);
    else if (did.startsWith("did:web:")) doc = await webDocument(did);
    else return null;
    if (!isValidDidDoc(doc) || doc.id !== did) return null;
    return doc;
  };
}
