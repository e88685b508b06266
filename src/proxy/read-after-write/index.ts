import { isValidTid } from "@atproto/syntax";
import type { AppContext } from "@/app-context";
import { bundledRecordValidator } from "@/lexicon";
import { getActorLikes } from "./getActorLikes";
import { getAuthorFeed } from "./getAuthorFeed";
import { getPostThread, threadFromLocal } from "./getPostThread";
import { getProfile } from "./getProfile";
import { getProfiles } from "./getProfiles";
import { getTimeline } from "./getTimeline";
import { isObject, localRecordsSince } from "./records";
import type { Munge } from "./viewer";
import { LocalViewer } from "./viewer";

/** What the proxy hands over for a JSON response of a method in READ_AFTER_WRITE_METHODS. */
export interface ReadAfterWriteInput {
  readonly ctx: AppContext;
  readonly nsid: string;
  /** The requesting account, whose own newer records are merged in. */
  readonly viewer: string;
  /** The upstream's `atproto-repo-rev` response header: how far it has indexed the viewer's repo. */
  readonly upstreamRev: string;
  /** The upstream's parsed JSON body: its output, or its XRPC error (getPostThread's NotFound is answered from local records). */
  readonly body: unknown;
  /** The request's query parameters (getPostThread's `uri` when the upstream answered NotFound, getActorLikes' `actor`). */
  readonly params?: URLSearchParams;
}

const MUNGES: Record<string, Munge> = {
  "app.bsky.actor.getProfile": getProfile,
  "app.bsky.actor.getProfiles": getProfiles,
  "app.bsky.feed.getAuthorFeed": getAuthorFeed,
  "app.bsky.feed.getTimeline": getTimeline,
  "app.bsky.feed.getPostThread": getPostThread,
  "app.bsky.feed.getActorLikes": getActorLikes,
};

/** The methods whose responses get the viewer's own newer records merged in. */
export const READ_AFTER_WRITE_METHODS: ReadonlySet<string> = new Set(Object.keys(MUNGES));

/**
 * The body with the viewer's records newer than `upstreamRev` merged in, or
 * null to pass the upstream body on unchanged: when the upstream is up to
 * date, the viewer has no newer records, the body is not a valid output of
 * the method, or anything fails (read-after-write only ever improves a
 * response; it never turns one into an error).
 */
export async function readAfterWrite(input: ReadAfterWriteInput): Promise<unknown | null> {
  const { ctx, nsid, viewer: did, upstreamRev, body } = input;
  const munge = MUNGES[nsid];
  if (!munge || !isValidTid(upstreamRev) || !isObject(body)) return null;
  try {
    const local = await localRecordsSince(ctx.db, did, upstreamRev);
    if (local.count === 0) return null;
    const viewer = new LocalViewer(ctx, did, local);
    const params = input.params ?? new URLSearchParams();
    if (nsid === "app.bsky.feed.getPostThread" && body.error === "NotFound") return await threadFromLocal(viewer, params);
    // Checked only now: most calls end above, and a timeline is a few hundred objects to walk.
    if (!bundledRecordValidator().validXrpcOutput(nsid, body)) return null;
    return await munge(viewer, body, params);
  } catch (err) {
    ctx.log.warn("read-after-write: upstream body passed on unchanged", { nsid, viewer: did, err });
    return null;
  }
}
