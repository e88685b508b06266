import { sql } from "kysely";
import { CID } from "multiformats/cid";
import { hostingStatus } from "@/account/store";
import type { Caller } from "@/auth/types";
import type { DatabasePlugin, Db } from "@/contracts/db";
import { prepared } from "@/db/prepared";
import { InvalidRequestError } from "@/errors";
import { assertAtIdentifier, assertDid, recordUri } from "@/lexicon/syntax";
import { LruCache } from "@/util/lru-cache";
import { cborToJson } from "./cbor-json";
import { type RecordView, recordTail } from "./record-body";

/** listRecords page sizes. */
export const LIST_RECORDS_DEFAULT = 50;
export const LIST_RECORDS_MAX = 100;

/**
 * Records' ends of body (their CID and value JSON as UTF-8, `recordTail`) by CID, at most 20,000 and
 * about 16 MiB (the bytes plus the key and entry). A CID is the hash of the block, so its JSON never
 * changes and may be shared by every repository; which CID a record has, and whether it may be read,
 * always comes from the query.
 */
const TAIL_CACHE_ENTRIES = 20_000;
const TAIL_CACHE_BYTES = 16 * 1024 * 1024;
const tailWeight = (tail: Uint8Array) => tail.length + 300;

/**
 * Records of `did` (their keys and CIDs; the values come from `tailsOf`), while the account is active: a
 * taken-down or deactivated account's records are as absent as missing ones (com.atproto.repo.* reads,
 * like the reference), checked in the same query once rather than per row. A repository without an
 * account row (tests) counts as active.
 */
function visibleRecords(db: Db, did: string) {
  return db
    .selectFrom("record")
    .where("record.did", "=", did)
    .where("record.takedown_ref", "is", null)
    .where(({ exists, not, selectFrom }) =>
      not(
        exists(
          selectFrom("account")
            .select(sql.lit(1).as("one"))
            .where("account.did", "=", did)
            .where((eb) => eb.or([eb("account.takedown_ref", "is not", null), eb("account.deactivated_at", "is not", null)])),
        ),
      ),
    );
}

// The record reads' queries, compiled once (src/db/prepared.ts): building a Kysely query per request
// cost more CPU than running it (a quarter of a getRecord's, measured in process).
const getRecordQuery = prepared<{ did: string; uri: string }, { cid: string }>((db, $) =>
  visibleRecords(db, $("did")).select("record.cid").where("record.uri", "=", $("uri")),
);

const blocksQuery = prepared<{ did: string; cids: string[] }, { cid: string; content: Uint8Array }>((db, $) =>
  db.selectFrom("repo_block").select(["cid", "content"]).where("did", "=", $("did")).where("cid", "in", $.list("cids")),
);

type PageArgs = { did: string; collection: string; limit: number; cursor: string };

/** listRecords' query: newest first (desc) or oldest first (asc), after a cursor or from the start. */
function pageQuery(reverse: boolean, withCursor: boolean) {
  return prepared<PageArgs, { cid: string; rkey: string }>((db, $) => {
    let query = visibleRecords(db, $("did"))
      .select(["record.cid", "record.rkey"])
      .where("record.collection", "=", $("collection"))
      .orderBy("record.rkey", reverse ? "asc" : "desc")
      .limit($("limit"));
    if (withCursor) query = query.where("record.rkey", reverse ? ">" : "<", $("cursor"));
    return query;
  });
}

const PAGE_QUERIES = {
  desc: pageQuery(false, false),
  "desc+cursor": pageQuery(false, true),
  asc: pageQuery(true, false),
  "asc+cursor": pageQuery(true, true),
};

/** Hosting state of a repository, as the sync API reports it. */
export interface RepoState {
  did: string;
  head: string;
  rev: string;
  active: boolean;
  /** Why the repository is not active. */
  status?: "takendown" | "deactivated";
  /** The account's handle, when it has a valid one. */
  handle: string | null;
}

/** Read side of the repositories: records, collections, roots and hosting state, all from the index tables. */
export class RepoReader {
  /** Record tails already made, so a hot record costs neither its block's lookup nor its conversion. */
  private readonly tails = new LruCache<Uint8Array>(TAIL_CACHE_ENTRIES, TAIL_CACHE_BYTES, tailWeight);

  constructor(private readonly db: DatabasePlugin) {}

  /** A DID for `repo` (a DID or the handle of an account hosted here); 400 when neither. */
  async resolveRepo(repo: string): Promise<string> {
    const did = await this.didOf(repo);
    if (!did) throw new InvalidRequestError(`Could not find repo: ${repo}`, "RepoNotFound");
    return did;
  }

  /** The DID `repo` names: itself when it is a DID, else the DID of the account hosted here with that handle, or null. */
  async didOf(repo: string): Promise<string | null> {
    assertAtIdentifier(repo, "repo");
    return repo.startsWith("did:") ? repo : this.didOfHandle(repo);
  }

  private async didOfHandle(handle: string): Promise<string | null> {
    const row = await this.db
      .db()
      .selectFrom("account")
      .select("did")
      // The expression index account_handle_lower_idx serves this.
      .where(sql`lower(handle)`, "=", handle.toLowerCase())
      .executeTakeFirst();
    return row?.did ?? null;
  }

  /** `repo` (a DID or handle) when its repository is hosted here, with whether it is active; null when it is not hosted here. */
  async hostedRepo(repo: string): Promise<{ did: string; active: boolean } | null> {
    const did = await this.didOf(repo);
    const state = did ? await this.repoState(did) : undefined;
    return did && state ? { did, active: state.active } : null;
  }

  async getRoot(did: string): Promise<{ cid: string; rev: string } | null> {
    const row = await this.db.db().selectFrom("repo_root").select(["cid", "rev"]).where("did", "=", did).executeTakeFirst();
    return row ?? null;
  }

  /** A record and its value (JSON form); null when absent, taken down, of an account that is not active, or not at `cid` when one is given. */
  async getRecord(did: string, collection: string, rkey: string, cid?: string): Promise<RecordView | null> {
    const uri = recordUri(did, collection, rkey);
    const [row] = await getRecordQuery.rows(this.db.db(), { did, uri });
    if (!row || (cid !== undefined && !sameCid(cid, row.cid))) return null;
    const [tail] = await this.tailsOf(did, [row.cid]);
    // No block: the record was deleted between the two reads.
    return tail === undefined ? null : { uri, cid: row.cid, tail };
  }

  /**
   * The records' tails (`recordTail`) for blocks of `did`, in the order of `cids`: from the cache, the rest in
   * one query (undefined for a block that is gone, its record deleted since it was listed).
   */
  private async tailsOf(did: string, cids: string[]): Promise<(Uint8Array | undefined)[]> {
    const out = cids.map((cid) => this.tails.get(cid));
    const missing = [...new Set(cids.filter((_, i) => out[i] === undefined))];
    if (missing.length === 0) return out;
    const rows = await blocksQuery.rows(this.db.db(), { did, cids: missing });
    const found = new Map<string, Uint8Array>();
    for (const row of rows) {
      const tail = recordTail(row.cid, cborToJson(row.content));
      this.tails.set(row.cid, tail);
      found.set(row.cid, tail);
    }
    return cids.map((cid, i) => out[i] ?? found.get(cid));
  }

  /** Records of one collection by record key: newest (highest key) first, or oldest first with `reverse`. */
  async listRecords(
    did: string,
    collection: string,
    opts: { limit?: number; cursor?: string; reverse?: boolean },
  ): Promise<{ records: RecordView[]; cursor?: string }> {
    const limit = Math.min(Math.max(opts.limit ?? LIST_RECORDS_DEFAULT, 1), LIST_RECORDS_MAX);
    const withCursor = opts.cursor !== undefined && opts.cursor !== "";
    const query = PAGE_QUERIES[`${opts.reverse === true ? "asc" : "desc"}${withCursor ? "+cursor" : ""}`];
    const rows = await query.rows(this.db.db(), { did, collection, limit, cursor: opts.cursor ?? "" });
    const tails = await this.tailsOf(did, rows.map((r) => r.cid));
    // The uri is not read: it is made of the three keys the query matched on.
    const prefix = recordUri(did, collection, "");
    const records: RecordView[] = [];
    rows.forEach((r, i) => {
      const tail = tails[i];
      if (tail !== undefined) records.push({ uri: prefix + r.rkey, cid: r.cid, tail });
    });
    return { records, cursor: rows.length === limit ? rows.at(-1)?.rkey : undefined };
  }

  /** The collections `did` has records in, sorted. */
  async listCollections(did: string): Promise<string[]> {
    const rows = await this.db
      .db()
      .selectFrom("record")
      .select("collection")
      .distinct()
      .where("did", "=", did)
      .orderBy("collection")
      .execute();
    return rows.map((r) => r.collection);
  }

  /** Root and hosting state of one repository; null when there is none here. */
  async repoState(did: string): Promise<RepoState | null> {
    const row = await this.db
      .db()
      .selectFrom("repo_root")
      .leftJoin("account", "account.did", "repo_root.did")
      .select(["repo_root.did", "repo_root.cid", "repo_root.rev", "account.deactivated_at", "account.takedown_ref", "account.handle"])
      .where("repo_root.did", "=", did)
      .executeTakeFirst();
    return row ? toState(row) : null;
  }

  /**
   * The state of a repository the sync API may serve to `viewer`; 400
   * RepoNotFound / RepoTakendown / RepoDeactivated otherwise. The owner (by
   * their own token) and the admin may read it whatever its status.
   */
  async availableRepo(did: string, viewer: Caller | null = null): Promise<RepoState> {
    assertDid(did, "did");
    const state = await this.repoState(did);
    if (!state) throw new InvalidRequestError(`Could not find repo for DID: ${did}`, "RepoNotFound");
    if (viewer && (viewer.kind === "admin" || viewer.did === did)) return state;
    if (state.status === "takendown") throw new InvalidRequestError(`Repo has been taken down: ${did}`, "RepoTakendown");
    if (state.status === "deactivated") throw new InvalidRequestError(`Repo has been deactivated: ${did}`, "RepoDeactivated");
    return state;
  }

  /** Every hosted repository by DID, for listRepos. */
  async listRepos(opts: { limit: number; cursor?: string }): Promise<{ repos: RepoState[]; cursor?: string }> {
    let query = this.db
      .db()
      .selectFrom("repo_root")
      .leftJoin("account", "account.did", "repo_root.did")
      .select(["repo_root.did", "repo_root.cid", "repo_root.rev", "account.deactivated_at", "account.takedown_ref", "account.handle"])
      .orderBy("repo_root.did")
      .limit(opts.limit);
    if (opts.cursor) query = query.where("repo_root.did", ">", opts.cursor);
    const rows = await query.execute();
    return { repos: rows.map(toState), cursor: rows.length === opts.limit ? rows.at(-1)?.did : undefined };
  }
}

function toState(row: {
  did: string;
  cid: string;
  rev: string;
  deactivated_at: string | null;
  takedown_ref: string | null;
  handle: string | null;
}): RepoState {
  const status = hostingStatus(row);
  const state = { did: row.did, head: row.cid, rev: row.rev, active: status === "active", handle: row.handle };
  return status === "active" ? state : { ...state, status };
}

function sameCid(given: string, stored: string): boolean {
  try {
    return CID.parse(given).toString() === stored;
  } catch {
    throw new InvalidRequestError("Invalid cid: not a CID");
  }
}
