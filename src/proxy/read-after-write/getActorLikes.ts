import type { FeedViewPost } from "./types";
import type { Munge } from "./viewer";

/**
 * app.bsky.feed.getActorLikes (only ever the viewer's own likes): the newer
 * profile on the viewer's liked posts, as the reference does, and, beyond
 * it, newer likes of the viewer's own posts on top (those views are built
 * here; a liked post of anyone else needs the AppView).
 */
export const getActorLikes: Munge<{ feed: FeedViewPost[] }> = async (viewer, body, params) => {
  const actor = params.get("actor");
  const known = new Set(body.feed.map((item) => item.post.uri));
  const added: FeedViewPost[] = [];
  if (!actor?.startsWith("did:") || actor === viewer.did) {
    for (const like of [...viewer.local.likes].reverse()) {
      const uri = like.value.subject?.uri;
      if (typeof uri !== "string" || known.has(uri)) continue;
      const post = await viewer.ownPost(uri);
      const view = post && (await viewer.postView(post));
      if (!view) continue;
      known.add(uri);
      added.push({ post: { ...view, likeCount: 1, viewer: { like: like.uri } } });
    }
  }
  if (added.length === 0 && !viewer.local.profile) return null;
  return { ...body, feed: [...added, ...viewer.withOwnAuthors(body.feed)] };
};
