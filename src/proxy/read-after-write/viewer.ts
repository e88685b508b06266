import { format } from "node:util";
import { INVALID_HANDLE } from "@atproto/syntax";
import type { AppContext } from "@/app-context";
import { accountByDid, accountByHandle } from "@/account/store";
import { recordValue } from "@/repo/record-body";
import type { LocalRecord, LocalRecords } from "./records";
import { isObject, localPost } from "./records";
import type { Embed, FeedViewPost, JsonBlob, PostRecord, PostView, ProfileRecord, ProfileViewBasic } from "./types";

/** The image presets of the AppView's CDN the views use. */
type ImagePreset = "avatar" | "banner" | "feed_thumbnail" | "feed_fullsize";

/**
 * Builds views of the viewer's own records, as the AppView would once it has
 * indexed them: the viewer as author, counts 0 (nobody has reacted yet),
 * images on the configured CDN or this server's getBlob.
 */
export class LocalViewer {
  private author: Promise<ProfileViewBasic | null> | undefined;

  constructor(
    private readonly ctx: AppContext,
    readonly did: string,
    readonly local: LocalRecords,
  ) {}

  imageUrl(preset: ImagePreset, cid: string): string {
    const pattern = this.ctx.config.appView?.cdnUrlPattern;
    if (pattern) return format(pattern, preset, this.did, cid);
    const query = new URLSearchParams({ did: this.did, cid });
    return `${this.ctx.config.service.publicUrl}/xrpc/com.atproto.sync.getBlob?${query}`;
  }

  private blobUrl(preset: ImagePreset, blob: unknown): string | undefined {
    const cid = blobCid(blob);
    return cid ? this.imageUrl(preset, cid) : undefined;
  }

  /** The DID of an account hosted here by handle. */
  async didOfHandle(handle: string): Promise<string | undefined> {
    return (await accountByHandle(this.ctx.db.db(), handle))?.did;
  }

  /** The viewer as an author: handle and the current profile record. Null when the account is gone. */
  profileBasic(): Promise<ProfileViewBasic | null> {
    this.author ??= (async () => {
      const [account, profile] = await Promise.all([
        accountByDid(this.ctx.db.db(), this.did),
        this.ctx.repo.reader.getRecord(this.did, "app.bsky.actor.profile", "self"),
      ]);
      if (!account) return null;
      const view: ProfileViewBasic = { did: this.did, handle: account.handle ?? INVALID_HANDLE };
      const value: unknown = profile ? recordValue(profile) : null;
      return isObject(value) ? this.withProfileBasic(view, value as ProfileRecord) : view;
    })();
    return this.author;
  }

  withProfileBasic<T extends ProfileViewBasic>(view: T, record: ProfileRecord): T {
    return { ...view, displayName: str(record.displayName), avatar: this.blobUrl("avatar", record.avatar) };
  }

  withProfile<T extends ProfileViewBasic>(view: T, record: ProfileRecord): T {
    return { ...this.withProfileBasic(view, record), description: str(record.description) };
  }

  withProfileDetailed<T extends ProfileViewBasic>(view: T, record: ProfileRecord): T {
    return { ...this.withProfile(view, record), banner: this.blobUrl("banner", record.banner) };
  }

  /** Feed items by the viewer with the newer profile record applied to their author. */
  withOwnAuthors(feed: FeedViewPost[]): FeedViewPost[] {
    const profile = this.local.profile?.value;
    if (!profile) return feed;
    return feed.map((item) =>
      item.post.author.did === this.did ? { ...item, post: { ...item.post, author: this.withProfileBasic(item.post.author, profile) } } : item,
    );
  }

  async postView(post: LocalRecord<PostRecord>): Promise<PostView | null> {
    const author = await this.profileBasic();
    if (!author) return null;
    const embed = isObject(post.value.embed) ? await this.embedView(post.value.embed) : undefined;
    return {
      uri: post.uri,
      cid: post.cid,
      author,
      record: post.value,
      ...(embed ? { embed } : {}),
      replyCount: 0,
      repostCount: 0,
      likeCount: 0,
      quoteCount: 0,
      indexedAt: post.indexedAt,
      labels: [],
    };
  }

  /**
   * `posts` (oldest first) newer than the feed's last item, each placed
   * before the first item older than it: the AppView's order by time.
   */
  async insertPosts(feed: FeedViewPost[], posts: readonly LocalRecord<PostRecord>[]): Promise<FeedViewPost[]> {
    const last = feed.at(-1)?.post.indexedAt ?? "";
    const known = new Set(feed.map((item) => item.post.uri));
    const fresh = posts.filter((p) => p.indexedAt > last && !known.has(p.uri));
    if (fresh.length === 0) return feed;
    const out = [...feed];
    for (const post of fresh.reverse()) {
      const view = await this.postView(post);
      if (!view) continue;
      const at = out.findIndex((item) => item.post.indexedAt < view.indexedAt);
      out.splice(at < 0 ? out.length : at, 0, { post: view });
    }
    return out;
  }

  /**
   * The view of a post's embed. Images and links are built here; a quoted
   * record only when it is one of the viewer's own posts (anything else
   * would need the AppView), else the lexicon's viewNotFound.
   */
  private async embedView(embed: Embed): Promise<Embed | undefined> {
    switch (embed.$type) {
      case "app.bsky.embed.images":
      case "app.bsky.embed.external":
        return this.mediaView(embed);
      case "app.bsky.embed.record":
        return this.recordView(embed);
      case "app.bsky.embed.recordWithMedia": {
        const media = isObject(embed.media) ? this.mediaView(embed.media) : undefined;
        if (!media || !isObject(embed.record)) return undefined;
        return { $type: "app.bsky.embed.recordWithMedia#view", record: await this.recordView(embed.record), media };
      }
      default:
        return undefined;
    }
  }

  private mediaView(embed: Embed): Embed | undefined {
    if (embed.$type === "app.bsky.embed.images" && Array.isArray(embed.images)) {
      const images = embed.images.filter(isObject).map((img) => {
        const cid = blobCid(img.image) ?? "";
        return {
          thumb: this.imageUrl("feed_thumbnail", cid),
          fullsize: this.imageUrl("feed_fullsize", cid),
          alt: typeof img.alt === "string" ? img.alt : "",
          ...(isObject(img.aspectRatio) ? { aspectRatio: img.aspectRatio } : {}),
        };
      });
      return { $type: "app.bsky.embed.images#view", images };
    }
    if (embed.$type === "app.bsky.embed.external" && isObject(embed.external)) {
      const { uri, title, description, thumb } = embed.external;
      const thumbUrl = this.blobUrl("feed_thumbnail", thumb);
      return { $type: "app.bsky.embed.external#view", external: { uri, title, description, ...(thumbUrl ? { thumb: thumbUrl } : {}) } };
    }
    return undefined;
  }

  /** One of the viewer's posts by its at:// URI, whatever its age; null for anyone else's. */
  async ownPost(uri: string): Promise<LocalRecord<PostRecord> | null> {
    const prefix = `at://${this.did}/app.bsky.feed.post/`;
    if (!uri.startsWith(prefix)) return null;
    return this.local.posts.find((p) => p.uri === uri) ?? (await localPost(this.ctx.db, this.did, uri.slice(prefix.length)));
  }

  private async recordView(embed: Embed): Promise<Embed> {
    const uri = isObject(embed.record) && typeof embed.record.uri === "string" ? embed.record.uri : "";
    const found = await this.ownPost(uri);
    const author = found ? await this.profileBasic() : null;
    if (!found || !author) return { $type: "app.bsky.embed.record#view", record: { $type: "app.bsky.embed.record#viewNotFound", uri, notFound: true } };
    const record = { $type: "app.bsky.embed.record#viewRecord", uri, cid: found.cid, author, value: found.value, labels: [], indexedAt: found.indexedAt };
    return { $type: "app.bsky.embed.record#view", record };
  }
}

/** The CID of a JSON-form blob reference, current or legacy. */
export function blobCid(blob: unknown): string | undefined {
  if (!isObject(blob)) return undefined;
  const { ref, cid } = blob as JsonBlob;
  if (typeof ref?.$link === "string") return ref.$link;
  return typeof cid === "string" ? cid : undefined;
}

const str = (value: unknown) => (typeof value === "string" ? value : undefined);

/**
 * One munged view: the upstream body (already checked against the method's
 * output lexicon) with the viewer's newer records merged in, or null when
 * nothing changes. `params` are the request's query parameters.
 */
export type Munge<B = any> = (viewer: LocalViewer, body: B, params: URLSearchParams) => Promise<B | null>;
