import { assertCid, assertDid, assertTempKey, ConfigError } from "@/plugin-kit";

/**
 * Object keys, built only from inputs that passed the contract's strict
 * patterns (no "/" can come from a DID, CID or temp key):
 *
 *   <prefix>blocks/<did>/<cid>        served blobs
 *   <prefix>quarantine/<did>/<cid>    taken down
 *   <prefix>tmp/<temp key>            uploads not yet referenced
 *
 * Temp keys start with their creation time in fixed-width hex, so a listing
 * of tmp/ comes back oldest first and the sweeper can stop early.
 */
export class S3Keys {
  constructor(private readonly prefix: string) {}

  didPrefix(area: "blocks" | "quarantine", did: string): string {
    assertDid(did);
    return `${this.prefix}${area}/${did}/`;
  }

  blob(area: "blocks" | "quarantine", did: string, cid: string): string {
    assertCid(cid);
    return this.didPrefix(area, did) + cid;
  }

  temp(key: string): string {
    assertTempKey(key);
    return `${this.prefix}tmp/${key}`;
  }

  get tempPrefix(): string {
    return `${this.prefix}tmp/`;
  }
}

/** A prefix is a folder-like string: no leading "/", no "..", ends with "/" (or is empty). */
export function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return "";
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  if (trimmed.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new ConfigError(`storage-s3: invalid key prefix ${JSON.stringify(prefix)}`);
  }
  return `${trimmed}/`;
}
