import { describe, expect, test } from "bun:test";
import { CID } from "multiformats/cid";
import { jsonToDataMap } from "./data-model";
import { bundledRecordValidator } from "./index";
import { acceptsMime } from "./blob-constraints";

const validator = bundledRecordValidator();
const blob = { $type: "blob", ref: { $link: "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity" }, mimeType: "image/png", size: 10 };

describe("RecordValidator", () => {
  test("finds blob fields through refs and unions, with their lexicon constraints", () => {
    const post = jsonToDataMap({
      $type: "app.bsky.feed.post",
      text: "x",
      createdAt: "2024-01-01T00:00:00Z",
      embed: { $type: "app.bsky.embed.images", images: [{ image: blob, alt: "a" }, { image: blob, alt: "b" }] },
    });
    const found = validator.blobConstraints("app.bsky.feed.post", post);
    expect([...found.keys()]).toEqual(["Record/embed/images/0/image", "Record/embed/images/1/image"]);
    expect(found.get("Record/embed/images/0/image")).toMatchObject({ accept: ["image/*"] });
    expect(found.get("Record/embed/images/0/image")?.maxSize).toBeGreaterThan(0);

    const withMedia = jsonToDataMap({
      $type: "app.bsky.feed.post",
      text: "x",
      createdAt: "2024-01-01T00:00:00Z",
      embed: {
        $type: "app.bsky.embed.recordWithMedia",
        record: { record: { uri: "at://did:plc:abc/app.bsky.feed.post/3kabcdefghij2", cid: blob.ref.$link } },
        media: { $type: "app.bsky.embed.external", external: { uri: "https://example.com", title: "t", description: "d", thumb: blob } },
      },
    });
    expect([...validator.blobConstraints("app.bsky.feed.post", withMedia).keys()]).toEqual(["Record/embed/media/external/thumb"]);
    const profile = jsonToDataMap({ $type: "app.bsky.actor.profile", avatar: blob, banner: blob });
    expect(validator.blobConstraints("app.bsky.actor.profile", profile).get("Record/avatar")).toMatchObject({
      accept: ["image/png", "image/jpeg"],
      maxSize: 1000000,
    });
  });

  test("record keys follow the lexicon's key type", () => {
    const profile = jsonToDataMap({ $type: "app.bsky.actor.profile" });
    expect(validator.validate("app.bsky.actor.profile", "self", profile, undefined)).toBe("valid");
    expect(() => validator.validate("app.bsky.actor.profile", "other", profile, undefined)).toThrow("must be self");
    const post = jsonToDataMap({ $type: "app.bsky.feed.post", text: "x", createdAt: "2024-01-01T00:00:00Z" });
    expect(() => validator.validate("app.bsky.feed.post", "not-a-tid", post, undefined)).toThrow("TIDs");
    expect(validator.literalKey("app.bsky.actor.profile")).toBe("self");
    expect(validator.literalKey("app.bsky.feed.post")).toBeUndefined();
  });

  test("strong refs need a strict at-uri", () => {
    const like = (uri: string) =>
      jsonToDataMap({ $type: "app.bsky.feed.like", subject: { uri, cid: blob.ref.$link }, createdAt: "2024-01-01T00:00:00Z" });
    expect(validator.validate("app.bsky.feed.like", "3kabcdefghij2", like("at://did:plc:abc/app.bsky.feed.post/3kabcdefghij2"), true)).toBe("valid");
    expect(() => validator.validate("app.bsky.feed.like", "3kabcdefghij2", like("at://did:plc:abc/app.bsky.feed.post/"), true)).toThrow(
      "Record/subject/uri",
    );
  });

  test.each([
    [["image/*"], "image/png", true],
    [["image/*"], "video/mp4", false],
    [["image/png", "image/jpeg"], "image/jpeg", true],
    [["*/*"], "application/octet-stream", true],
    [["video/mp4"], "VIDEO/MP4", true],
  ])("accept %p of %s: %p", (accept, mime, ok) => {
    expect(acceptsMime(accept, mime)).toBe(ok);
  });
});

describe("data model conversion", () => {
  test.each([
    [{ a: 1.5 }, "Record/a"],
    [{ a: [1, { b: 2 ** 60 }] }, "Record/a/1/b"],
    [{ a: { $link: "nope" } }, "Record/a/$link"],
    [{ a: { $bytes: "***" } }, "Record/a/$bytes"],
    [{ a: { $type: "blob", ref: { $link: blob.ref.$link }, mimeType: "image/png", size: -1 } }, "Record/a/size"],
    [{ $type: 7 }, "Record/$type"],
  ])("%p is refused naming %s", (json, field) => {
    expect(() => jsonToDataMap(json)).toThrow(field);
  });

  test("links, bytes and blobs become CIDs, bytes and typed blob maps", () => {
    const data = jsonToDataMap({ l: { $link: blob.ref.$link }, b: { $bytes: "AQID" }, blob });
    expect(CID.asCID(data.l)?.toString()).toBe(blob.ref.$link);
    expect(data.b).toEqual(Uint8Array.from([1, 2, 3]));
    expect(CID.asCID((data.blob as Record<string, unknown>).ref)).not.toBeNull();
  });
});
