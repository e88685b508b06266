/**
 * The shapes read-after-write reads and builds: records in their JSON form
 * (blob refs as `{ $type: "blob", ref: { $link } }`) and the app.bsky views
 * it touches, as far as it touches them. Upstream bodies are checked against
 * the method's lexicon before any of this is trusted.
 */

export type JsonRecord = Record<string, unknown>;

/** A blob reference in JSON form, current or legacy (`{ cid, mimeType }`). */
export interface JsonBlob {
  ref?: { $link?: string };
  cid?: string;
}

export interface ProfileRecord extends JsonRecord {
  displayName?: string;
  description?: string;
  avatar?: JsonBlob;
  banner?: JsonBlob;
}

export interface StrongRef {
  uri: string;
  cid: string;
}

export interface PostRecord extends JsonRecord {
  text: string;
  createdAt: string;
  reply?: { root: StrongRef; parent: StrongRef };
  embed?: Embed;
}

export interface LikeRecord extends JsonRecord {
  subject: StrongRef;
  createdAt: string;
}

export interface Embed extends JsonRecord {
  $type?: string;
}

export interface ProfileViewBasic {
  did: string;
  handle: string;
  displayName?: string;
  avatar?: string;
  [key: string]: unknown;
}

export interface PostView {
  uri: string;
  cid: string;
  author: ProfileViewBasic;
  record: JsonRecord;
  embed?: Embed;
  replyCount?: number;
  repostCount?: number;
  likeCount?: number;
  quoteCount?: number;
  indexedAt: string;
  viewer?: Record<string, unknown>;
  labels?: unknown[];
  [key: string]: unknown;
}

export interface FeedViewPost {
  post: PostView;
  reason?: { $type?: string; by?: { did: string } };
  [key: string]: unknown;
}

export interface ThreadViewPost {
  $type: "app.bsky.feed.defs#threadViewPost";
  post: PostView;
  parent?: { $type?: string; [key: string]: unknown };
  replies?: { $type?: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

export const THREAD_VIEW_POST = "app.bsky.feed.defs#threadViewPost";

export function isThreadViewPost(value: unknown): value is ThreadViewPost {
  return typeof value === "object" && value !== null && (value as { $type?: unknown }).$type === THREAD_VIEW_POST;
}
