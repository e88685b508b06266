import { type DidDocument, getHandle, getPdsEndpoint } from "@atproto/common-web";
import { isValidHandle, normalizeHandle } from "@atproto/syntax";
import type { CacheAside } from "@/cache/aside";
import { signingDidKey } from "./did-doc";
import type { ResolveDid } from "./did-resolver";
import type { ResolveHandle } from "./handle-resolver";

/** What atproto needs from a DID document. */
export interface AtprotoData {
  did: string;
  /** The handle the document claims (`at://` in alsoKnownAs), not verified. */
  handle: string | undefined;
  /** The #atproto_pds service endpoint. */
  pds: string | undefined;
  /** The #atproto signing key as a did:key. */
  signingKey: string | undefined;
}

export interface ResolveOptions {
  /** Skip the cache and refresh it from the source. */
  forceRefresh?: boolean;
}

/**
 * Identity resolution for the whole server: DID documents (did:plc from the
 * PLC directory, did:web over HTTPS) and handles (DNS TXT, then HTTPS), both
 * through the cache slot (categories `did:doc` and `did:handle`, with the
 * guide's TTLs). Misses are not cached, so a new handle resolves at once.
 */
export interface IdentityResolver {
  resolveDid(did: string, opts?: ResolveOptions): Promise<DidDocument | null>;
  /** A handle's DID, or null. Hosted handles are answered from the database by the account service, not here. */
  resolveHandle(handle: string, opts?: ResolveOptions): Promise<string | null>;
  resolveAtprotoData(did: string, opts?: ResolveOptions): Promise<AtprotoData | null>;
  /**
   * The DID's handle when it checks out both ways (the document claims the
   * handle and the handle resolves back to the DID), else undefined.
   */
  verifiedHandle(did: string, opts?: ResolveOptions): Promise<string | undefined>;
  /** Forget cached answers after an identity change (every node, with a shared cache). */
  invalidateDid(did: string): Promise<void>;
  invalidateHandle(handle: string): Promise<void>;
}

export function createIdentityResolver(deps: { cached: CacheAside; resolveDid: ResolveDid; resolveHandle: ResolveHandle }): IdentityResolver {
  const { cached } = deps;

  const resolveDid = async (did: string, opts: ResolveOptions = {}) => {
    if (opts.forceRefresh) await cached.invalidate("did:doc", did);
    return cached.get<DidDocument>("did:doc", did, () => deps.resolveDid(did));
  };

  const resolveHandle = async (input: string, opts: ResolveOptions = {}) => {
    if (!isValidHandle(input)) return null;
    const handle = normalizeHandle(input);
    if (opts.forceRefresh) await cached.invalidate("did:handle", handle);
    return cached.get<string>("did:handle", handle, () => deps.resolveHandle(handle));
  };

  const resolveAtprotoData = async (did: string, opts?: ResolveOptions): Promise<AtprotoData | null> => {
    const doc = await resolveDid(did, opts);
    if (!doc) return null;
    return { did, handle: getHandle(doc), pds: getPdsEndpoint(doc), signingKey: signingDidKey(doc) };
  };

  return {
    resolveDid,
    resolveHandle,
    resolveAtprotoData,
    async verifiedHandle(did, opts) {
      const data = await resolveAtprotoData(did, opts);
      if (!data?.handle || !isValidHandle(data.handle)) return undefined;
      const handle = normalizeHandle(data.handle);
      return (await resolveHandle(handle, opts)) === did ? handle : undefined;
    },
    invalidateDid: (did) => cached.invalidate("did:doc", did),
    invalidateHandle: (handle) => cached.invalidate("did:handle", normalizeHandle(handle)),
  };
}
