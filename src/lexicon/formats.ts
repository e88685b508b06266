import { FormatRegistry, type StringOptions, Type } from "@sinclair/typebox";
import { isValidDid, isValidNsid, isValidRecordKey, isValidTid } from "@atproto/syntax";
import { CID } from "multiformats/cid";
import { isAtIdentifier } from "./syntax";

/**
 * String formats of XRPC params and inputs, checked by the XRPC layer's
 * schema validation before a handler runs, so no malformed identifier (or a
 * NUL byte, which PostgreSQL refuses in text) ever reaches a query: the
 * caller gets 400 InvalidRequest naming the field and the format. The names
 * are the lexicon's string formats; `printable` is ours, for free text that
 * is stored or looked up (app password names, invite codes, log-in
 * identifiers). Registered when this module loads, which every handler using
 * one does; an unregistered format fails every value, never passes it.
 */
const FORMATS: Record<string, (value: string) => boolean> = {
  did: isValidDid,
  nsid: isValidNsid,
  "record-key": isValidRecordKey,
  tid: isValidTid,
  "at-identifier": isAtIdentifier,
  cid: isCid,
  // No C0/C1 control characters (NUL, newlines, escapes): nothing a name or code legitimately holds.
  printable: (value) => !/[\u0000-\u001f\u007f-\u009f]/.test(value),
};
for (const [name, check] of Object.entries(FORMATS)) FormatRegistry.Set(name, check);

function isCid(value: string): boolean {
  try {
    CID.parse(value);
    return true;
  } catch {
    return false;
  }
}

type Format = "did" | "nsid" | "record-key" | "tid" | "at-identifier" | "cid" | "printable";

/** A string param or input field of one of the formats above, e.g. `collection: Str("nsid")`. */
export const Str = (format: Format, options: StringOptions = {}) => Type.String({ ...options, format });
