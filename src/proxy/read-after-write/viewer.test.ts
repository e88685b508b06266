import { describe, expect, test } from "bun:test";
import type { AppContext } from "@/app-context";
import { LocalViewer, blobCid } from "./viewer";

const DID = "did:plc:abcdefghijklmnopqrstuvwx";
const CID = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";
const NONE = { count: 0, profile: null, posts: [], likes: [] };
const viewerWith = (appView: object | undefined) =>
  new LocalViewer({ config: { appView, service: { publicUrl: "https://pds.example.com" } } } as unknown as AppContext, DID, NONE);

describe("LocalViewer image URLs", () => {
  test("without a CDN: com.atproto.sync.getBlob on the public URL", () => {
    expect(viewerWith(undefined).imageUrl("avatar", CID)).toBe(
      `https://pds.example.com/xrpc/com.atproto.sync.getBlob?did=${encodeURIComponent(DID)}&cid=${CID}`,
    );
  });

  test("with the AppView's CDN pattern: preset, DID and CID in its %s places", () => {
    const viewer = viewerWith({ url: "https://api.bsky.app", did: "did:web:api.bsky.app", cdnUrlPattern: "https://cdn.bsky.app/img/%s/plain/%s/%s@jpeg" });
    expect(viewer.imageUrl("feed_thumbnail", CID)).toBe(`https://cdn.bsky.app/img/feed_thumbnail/plain/${DID}/${CID}@jpeg`);
  });

  test.each([
    ["a current blob ref", { $type: "blob", ref: { $link: CID }, mimeType: "image/png", size: 1 }, CID],
    ["a legacy blob ref", { cid: CID, mimeType: "image/png" }, CID],
    ["something else", "bafy", undefined],
    ["a ref without a link", { ref: {} }, undefined],
  ])("blobCid of %s", (_name, blob, cid) => {
    expect(blobCid(blob)).toBe(cid);
  });
});
