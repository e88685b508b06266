import type { Caller } from "@/auth/types";
import type { Db } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import { isValidAtUri, recordUri } from "@/lexicon/syntax";

/** com.atproto.admin.defs#statusAttr: whether a takedown (or deactivation) is applied, and its reference. */
export interface StatusAttr {
  applied: boolean;
  ref?: string;
}

/** A record named by an AT-URI, with its authority resolved to the DID its rows are stored under. */
export interface RecordSubject {
  did: string;
  /** `at://<did>/<collection>/<rkey>`: the form record rows are keyed by. */
  uri: string;
}

/** Who acted, as the admin log names them: "admin", or the moderation service's DID. */
export function actorOf(caller: Caller | null): string {
  if (caller?.kind === "admin") return "admin";
  if (caller?.kind === "service" && caller.did) return caller.did;
  throw new Error("moderation actions need the admin or the moderation service as caller");
}

/**
 * The record an AT-URI names: 400 InvalidRequest when it is not an AT-URI; null when it names no
 * record (no collection or key) or its handle is not one hosted here. `didOf` resolves a handle.
 */
export async function recordSubject(uri: string, didOf: (handleOrDid: string) => Promise<string | null>): Promise<RecordSubject | null> {
  if (!isValidAtUri(uri)) throw new InvalidRequestError("Invalid uri: not an AT-URI");
  const [authority, collection, rkey] = uri.slice("at://".length).split("/");
  if (!authority || !collection || !rkey) return null;
  const did = await didOf(authority);
  return did ? { did, uri: recordUri(did, collection, rkey) } : null;
}

/** The takedown state of a stored `takedown_ref`, as the lexicon's statusAttr. */
export function takedownAttr(ref: string | null): StatusAttr {
  return ref ? { applied: true, ref } : { applied: false };
}

/** What a takedown writes: its ref, or the time when none is given (as the reference); null to lift it. */
export function takedownRef(takedown: StatusAttr): string | null {
  return takedown.applied ? (takedown.ref ?? new Date().toISOString()) : null;
}

/** An account's takedown and deactivation; null when it is not hosted here. */
export async function accountStatus(db: Db, did: string): Promise<{ takedown: StatusAttr; deactivated: StatusAttr } | null> {
  const row = await db.selectFrom("account").select(["takedown_ref", "deactivated_at"]).where("did", "=", did).executeTakeFirst();
  if (!row) return null;
  return { takedown: takedownAttr(row.takedown_ref), deactivated: { applied: row.deactivated_at !== null } };
}

/** A record's current CID and takedown; null when there is no such record. */
export async function recordStatus(db: Db, uri: string): Promise<{ cid: string; takedown: StatusAttr } | null> {
  const row = await db.selectFrom("record").select(["cid", "takedown_ref"]).where("uri", "=", uri).executeTakeFirst();
  return row ? { cid: row.cid, takedown: takedownAttr(row.takedown_ref) } : null;
}

/** A blob's takedown; null when `did` has no such blob. */
export async function blobStatus(db: Db, did: string, cid: string): Promise<StatusAttr | null> {
  const row = await db.selectFrom("blob").select("takedown_ref").where("did", "=", did).where("cid", "=", cid).executeTakeFirst();
  return row ? takedownAttr(row.takedown_ref) : null;
}
