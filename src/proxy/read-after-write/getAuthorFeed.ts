import type { FeedViewPost } from "./types";
import type { Munge } from "./viewer";

/**
 * app.bsky.feed.getAuthorFeed of the viewer's own feed (recognised, as the
 * reference does, by its first item being the viewer's post or repost): the
 * newer profile on their items and their newer posts on top.
 */
export const getAuthorFeed: Munge<{ feed: FeedViewPost[] }> = async (viewer, body) => {
  if (!isOwnFeed(body.feed, viewer.did)) return null;
  const feed = await viewer.insertPosts(viewer.withOwnAuthors(body.feed), viewer.local.posts);
  return feed === body.feed ? null : { ...body, feed };
};

function isOwnFeed(feed: FeedViewPost[], did: string): boolean {
  const first = feed[0];
  if (!first) return false;
  if (!first.reason) return first.post.author.did === did;
  return first.reason.$type === "app.bsky.feed.defs#reasonRepost" && first.reason.by?.did === did;
}
