import { isValidDid, isValidHandle, isValidNsid, isValidRecordKey, isValidTid } from "@atproto/syntax";
import { InvalidRequestError } from "@/errors";

/**
 * Identifier checks of the request layer, each naming the field it refused.
 * The grammars are @atproto/syntax's (the interop vectors in
 * ../shared/interop/syntax run against these wrappers).
 */

export function assertNsid(value: string, field = "collection"): void {
  if (!isValidNsid(value)) throw new InvalidRequestError(`Invalid ${field}: not a valid NSID: ${clip(value)}`);
}

export function assertRecordKey(value: string, field = "rkey"): void {
  if (!isValidRecordKey(value)) throw new InvalidRequestError(`Invalid ${field}: not a valid record key: ${clip(value)}`);
}

export function assertDid(value: string, field = "repo"): void {
  if (!isValidDid(value)) throw new InvalidRequestError(`Invalid ${field}: not a valid DID: ${clip(value)}`);
}

export function assertTid(value: string, field = "rev"): void {
  if (!isValidTid(value)) throw new InvalidRequestError(`Invalid ${field}: not a valid TID: ${clip(value)}`);
}

/** An at-identifier: a DID or a handle. */
export function isAtIdentifier(value: string): boolean {
  return value.startsWith("did:") ? isValidDid(value) : isValidHandle(value);
}

export function assertAtIdentifier(value: string, field = "repo"): void {
  if (!isAtIdentifier(value)) throw new InvalidRequestError(`Invalid ${field}: not a valid DID or handle: ${clip(value)}`);
}

/** The spec's longest AT-URI. */
const AT_URI_MAX = 8 * 1024;
const AT_URI = /^at:\/\/([^/?#\s]+)(?:\/([^/?#\s]+)(?:\/([^/?#\s]+))?)?$/;

/**
 * An AT-URI in the strict form records use: `at://` authority (DID or
 * handle), then optionally an NSID collection and a record key; no trailing
 * slash, query or fragment.
 */
export function isValidAtUri(value: string): boolean {
  if (value.length > AT_URI_MAX) return false;
  const match = AT_URI.exec(value);
  if (!match) return false;
  const [, authority, collection, rkey] = match;
  if (!authority || !isAtIdentifier(authority)) return false;
  if (collection !== undefined && !isValidNsid(collection)) return false;
  return rkey === undefined || isValidRecordKey(rkey);
}

/** `at://did/collection/rkey` of a record. */
export function recordUri(did: string, collection: string, rkey: string): string {
  return `at://${did}/${collection}/${rkey}`;
}

function clip(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
