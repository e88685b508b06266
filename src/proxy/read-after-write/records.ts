import { decode as decodeCbor } from "@ipld/dag-cbor";
import { sql } from "kysely";
import type { DatabasePlugin } from "@/contracts/db";
import { dataToJson } from "@/lexicon/data-model";
import type { JsonRecord, LikeRecord, PostRecord, ProfileRecord } from "./types";

/**
 * How many of the viewer's newer records one response is merged with (all
 * kinds together, oldest first): the reference PDS reads 10. Read-after-write
 * covers the seconds an AppView lags behind, not a backlog.
 */
export const LOCAL_RECORDS_LIMIT = 10;

/** One record of the viewer's repository, in its JSON form. */
export interface LocalRecord<T extends JsonRecord = JsonRecord> {
  readonly uri: string;
  readonly cid: string;
  readonly rev: string;
  /** When this server indexed it: the `indexedAt` of the views built from it. */
  readonly indexedAt: string;
  readonly value: T;
}

/** The viewer's records written after some rev, by the kinds the munged views use. */
export interface LocalRecords {
  /** Every record read, of any collection: 0 means the upstream has seen everything. */
  readonly count: number;
  readonly profile: LocalRecord<ProfileRecord> | null;
  /** Oldest first. */
  readonly posts: LocalRecord<PostRecord>[];
  /** Oldest first. */
  readonly likes: LocalRecord<LikeRecord>[];
}

/**
 * The viewer's records committed after `rev`, in one query. When no record
 * of the repository is at or before `rev` the upstream's rev does not
 * describe this repository (an account moved here, a repository rebuilt),
 * so nothing counts as newer: the same sanity check as the reference.
 */
export async function localRecordsSince(db: DatabasePlugin, did: string, rev: string): Promise<LocalRecords> {
  const rows = await db
    .db()
    .selectFrom("record")
    .innerJoin("repo_block", (join) =>
      join.onRef("repo_block.did", "=", "record.did").onRef("repo_block.cid", "=", "record.cid"),
    )
    .select(["record.uri", "record.cid", "record.collection", "record.rkey", "record.rev", "record.indexed_at", "repo_block.content"])
    .where("record.did", "=", did)
    .where("record.rev", ">", rev)
    .where("record.takedown_ref", "is", null)
    .where(({ exists, selectFrom }) =>
      exists(selectFrom("record as older").select(sql<number>`1`.as("one")).where("older.did", "=", did).where("older.rev", "<=", rev)),
    )
    .orderBy("record.rev", "asc")
    .orderBy("record.uri", "asc")
    .limit(LOCAL_RECORDS_LIMIT)
    .execute();
  const local = { count: rows.length, profile: null as LocalRecord<ProfileRecord> | null, posts: [] as LocalRecord<PostRecord>[], likes: [] as LocalRecord<LikeRecord>[] };
  for (const row of rows) {
    const value = dataToJson(decodeCbor(row.content));
    if (!isObject(value)) continue;
    const record = { uri: row.uri, cid: row.cid, rev: row.rev, indexedAt: row.indexed_at, value };
    if (row.collection === "app.bsky.actor.profile" && row.rkey === "self") local.profile = record as LocalRecord<ProfileRecord>;
    else if (row.collection === "app.bsky.feed.post") local.posts.push(record as LocalRecord<PostRecord>);
    else if (row.collection === "app.bsky.feed.like") local.likes.push(record as LocalRecord<LikeRecord>);
  }
  return local;
}

/** One of the viewer's posts by record key, whatever its rev; null when absent or taken down. */
export async function localPost(db: DatabasePlugin, did: string, rkey: string): Promise<LocalRecord<PostRecord> | null> {
  const row = await db
    .db()
    .selectFrom("record")
    .innerJoin("repo_block", (join) =>
      join.onRef("repo_block.did", "=", "record.did").onRef("repo_block.cid", "=", "record.cid"),
    )
    .select(["record.uri", "record.cid", "record.rev", "record.indexed_at", "repo_block.content"])
    .where("record.uri", "=", `at://${did}/app.bsky.feed.post/${rkey}`)
    .where("record.takedown_ref", "is", null)
    .executeTakeFirst();
  const value = row ? dataToJson(decodeCbor(row.content)) : null;
  if (!row || !isObject(value)) return null;
  return { uri: row.uri, cid: row.cid, rev: row.rev, indexedAt: row.indexed_at, value: value as PostRecord };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
