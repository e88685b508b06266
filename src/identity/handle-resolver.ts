import { isValidDid } from "@atproto/syntax";
import { Resolver } from "node:dns/promises";
import { type LookupAll, SafeFetchError, safeFetch } from "./safe-fetch";

export interface HandleResolverOptions {
  /** identity.allowPrivateAddresses: the HTTPS step may reach private addresses. */
  allowPrivate: boolean;
  /** Per step (DNS, HTTPS). @default 3000 */
  timeoutMs?: number;
  /** DNS servers as `ip` or `ip:port`. @default the system's resolvers */
  dnsServers?: string[];
  /** Where the HTTPS step looks. @default `https://<handle>/.well-known/atproto-did` */
  wellKnownUrl?: (handle: string) => string;
  /** Name resolution and extra CA for the HTTPS step (tests). */
  lookup?: LookupAll;
  ca?: string;
}

/** A handle's DID by the atproto handle rules: DNS TXT `_atproto.<handle>`, then HTTPS. Null when neither says. */
export type ResolveHandle = (handle: string) => Promise<string | null>;

export function createHandleResolver(opts: HandleResolverOptions): ResolveHandle {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const dns = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (opts.dnsServers) dns.setServers(opts.dnsServers);
  const wellKnownUrl = opts.wellKnownUrl ?? ((handle: string) => `https://${handle}/.well-known/atproto-did`);

  const viaDns = async (handle: string): Promise<string | null> => {
    let records: string[][];
    try {
      records = await dns.resolveTxt(`_atproto.${handle}`);
    } catch {
      // NXDOMAIN, no TXT record, timeout: all mean "DNS does not say"; HTTPS may.
      return null;
    }
    const dids = new Set(
      records
        .map((chunks) => chunks.join(""))
        .filter((value) => value.startsWith("did="))
        .map((value) => value.slice(4).trim()),
    );
    // Two different answers are no answer (the spec: ambiguity fails resolution).
    if (dids.size !== 1) return null;
    const [did] = dids;
    return isValidDid(did!) ? did! : null;
  };

  const viaHttps = async (handle: string): Promise<string | null> => {
    try {
      const res = await safeFetch(wellKnownUrl(handle), {
        allowPrivate: opts.allowPrivate,
        timeoutMs,
        maxBytes: 2048,
        lookup: opts.lookup,
        ca: opts.ca,
      });
      if (res.status !== 200) return null;
      const did = res.text().split("\n")[0]!.trim();
      return isValidDid(did) ? did : null;
    } catch (err) {
      if (err instanceof SafeFetchError) return null;
      throw err;
    }
  };

  return async (handle) => (await viaDns(handle)) ?? (await viaHttps(handle));
}
