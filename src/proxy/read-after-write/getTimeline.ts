import type { FeedViewPost } from "./types";
import type { Munge } from "./viewer";

/** app.bsky.feed.getTimeline: the viewer's newer posts, placed by time. */
export const getTimeline: Munge<{ feed: FeedViewPost[] }> = async (viewer, body) => {
  const feed = await viewer.insertPosts(body.feed, viewer.local.posts);
  return feed === body.feed ? null : { ...body, feed };
};
