import type { LocalRecord } from "./records";
import type { LocalViewer } from "./viewer";
import { type PostRecord, THREAD_VIEW_POST, type ThreadViewPost, isThreadViewPost } from "./types";
import type { Munge } from "./viewer";

/** app.bsky.feed.getPostThread: the viewer's newer replies in the thread, under their parents. */
export const getPostThread: Munge<{ thread: unknown }> = async (viewer, body) => {
  if (!isThreadViewPost(body.thread)) return null;
  const thread = await addReplies(viewer, body.thread, viewer.local.posts);
  return thread === body.thread ? null : { ...body, thread };
};

/**
 * The upstream answered NotFound: when the post asked for is one of the
 * viewer's newer posts, its thread is built here: the post, the viewer's
 * newer replies to it, and its parents as far as they are newer posts of the
 * viewer too (the AppView knows the others; the reference asks it for them).
 */
export async function threadFromLocal(viewer: LocalViewer, params: URLSearchParams): Promise<{ thread: ThreadViewPost } | null> {
  const uri = await ownUri(viewer, params.get("uri") ?? "");
  const post = viewer.local.posts.find((p) => p.uri === uri);
  const view = post && (await threadView(viewer, post));
  if (!post || !view) return null;
  const rest = viewer.local.posts.filter((p) => p !== post);
  let thread = await addReplies(viewer, view, rest);
  const parent = await localParents(viewer, post, Number(params.get("parentHeight") ?? 80));
  if (parent) thread = { ...thread, parent };
  return { thread };
}

/** `uri` with a handle of the viewer's replaced by their DID; null for anyone else's. */
async function ownUri(viewer: LocalViewer, uri: string): Promise<string | null> {
  const match = /^at:\/\/([^/]+)(\/.*)$/.exec(uri);
  if (!match) return null;
  const [, host, rest] = match as unknown as [string, string, string];
  if (host === viewer.did) return uri;
  const account = host.startsWith("did:") ? undefined : await viewer.didOfHandle(host);
  return account === viewer.did ? `at://${viewer.did}${rest}` : null;
}

async function localParents(viewer: LocalViewer, post: LocalRecord<PostRecord>, height: number): Promise<ThreadViewPost | undefined> {
  const parentUri = post.value.reply?.parent?.uri;
  const parent = height > 0 ? viewer.local.posts.find((p) => p.uri === parentUri) : undefined;
  const view = parent && (await threadView(viewer, parent));
  if (!parent || !view) return undefined;
  const above = await localParents(viewer, parent, height - 1);
  return above ? { ...view, parent: above } : view;
}

/** Posts of `posts` replying within `thread`'s root, each inserted under its parent where the parent is in view. */
async function addReplies(viewer: LocalViewer, thread: ThreadViewPost, posts: readonly LocalRecord<PostRecord>[]): Promise<ThreadViewPost> {
  const threadRoot = (thread.post.record as PostRecord).reply?.root?.uri ?? thread.post.uri;
  let out = thread;
  for (const post of posts) {
    if (post.value.reply?.root?.uri !== threadRoot) continue;
    out = await insertReply(viewer, out, post);
  }
  return out;
}

async function insertReply(viewer: LocalViewer, view: ThreadViewPost, post: LocalRecord<PostRecord>): Promise<ThreadViewPost> {
  const replies = view.replies ?? [];
  if (post.value.reply?.parent?.uri === view.post.uri) {
    if (replies.some((r) => isThreadViewPost(r) && r.post.uri === post.uri)) return view;
    const reply = await threadView(viewer, post);
    return reply ? { ...view, replies: [reply, ...replies] } : view;
  }
  if (replies.length === 0) return view;
  const updated = await Promise.all(replies.map((r) => (isThreadViewPost(r) ? insertReply(viewer, r, post) : r)));
  return updated.every((r, i) => r === replies[i]) ? view : { ...view, replies: updated };
}

async function threadView(viewer: LocalViewer, post: LocalRecord<PostRecord>): Promise<ThreadViewPost | null> {
  const view = await viewer.postView(post);
  return view ? { $type: THREAD_VIEW_POST, post: view } : null;
}
