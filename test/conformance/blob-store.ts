/**
 * The one conformance suite for blob storage: every BlobStorePlugin (disk,
 * s3, third-party) must pass it unchanged. A plugin's index.test.ts calls
 * `blobStoreConformance(...)` and adds its own backend-specific tests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import {
  type BlobSource,
  type BlobStorePlugin,
  BlobNotFoundError,
  BlobRangeError,
  InvalidBlobRefError,
  newTempKey,
} from "@/contracts/blob-store";
import type { PluginContext } from "@/contracts/plugin";
import { createLogger } from "@/log";

export interface BlobStoreSuite {
  /** A fresh, uninitialised plugin; the suite inits and closes it. */
  make(): BlobStorePlugin;
  /** Every file or object the backend holds now (any naming), to prove nothing was left behind. */
  inventory(): Promise<string[]>;
}

const MiB = 1024 * 1024;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A PluginContext on a fresh temp data dir; `cleanup()` removes the dir. */
export function pluginContext(): PluginContext & { cleanup(): void } {
  const dataDir = mkdtempSync(join(tmpdir(), "aurora-blobs-"));
  return {
    dataDir,
    log: createLogger("silent"),
    metrics: new Registry(),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

const base32 = (n: number) => Array.from(randomBytes(n), (b) => BASE32[b % 32]).join("");
/** A DID no earlier run used, so a shared bucket needs no cleanup between runs. */
export const freshDid = () => `did:plc:${base32(24)}`;
/** A CIDv1 raw sha-256 shaped string (stores do not re-hash; the core does). */
export const freshCid = () => `bafkrei${base32(52)}`;

/** `size` fresh random bytes in chunks of `chunk`, hashing them as they go; `digest()` after the end. */
export function generated(size: number, chunk = MiB, failAfter?: number) {
  const hash = createHash("sha256");
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let sent = 0; sent < size; ) {
      if (failAfter !== undefined && sent >= failAfter) throw new Error("source failed mid-stream");
      const part = randomFillSync(Buffer.alloc(Math.min(chunk, size - sent)));
      hash.update(part);
      sent += part.byteLength;
      yield part;
    }
  }
  return { source: source(), digest: () => hash.digest("hex") };
}

/** Hash a stream chunk by chunk; never holds more than one chunk. */
export async function digestStream(stream: ReadableStream<Uint8Array>): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { size, sha256: hash.digest("hex") };
}

async function* once(bytes: Uint8Array): BlobSource {
  if (bytes.byteLength > 0) yield bytes;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export function blobStoreConformance(label: string, suite: BlobStoreSuite): void {
  describe(`blob store conformance: ${label}`, () => {
    let store: BlobStorePlugin;
    let ctx: ReturnType<typeof pluginContext>;

    /** Upload `bytes` and file them under a fresh (did, cid). */
    const stored = async (bytes: Uint8Array, did = freshDid(), cid = freshCid()) => {
      const { key } = await store.putTemp(once(bytes));
      await store.makePermanent(key, did, cid);
      return { did, cid };
    };
    const read = async (did: string, cid: string) =>
      new Uint8Array(await new Response((await store.get(did, cid)).stream).arrayBuffer());
    const holds = async (fragment: string) => (await suite.inventory()).some((name) => name.includes(fragment));

    beforeAll(async () => {
      ctx = pluginContext();
      store = suite.make();
      await store.init(ctx);
    });
    afterAll(async () => {
      await store.close();
      ctx.cleanup();
    });

    test("is a blobs plugin and healthy", async () => {
      expect(store.kind).toBe("blobs");
      expect(typeof store.shared).toBe("boolean");
      await store.health();
    });

    test.each([0, 1, 1000])("a %d-byte blob round-trips byte-identical", async (size) => {
      const bytes = randomBytes(size);
      const { did, cid } = await stored(bytes);
      const got = await store.get(did, cid);
      expect([got.size, got.start, got.end]).toEqual([size, 0, size - 1]);
      const back = new Uint8Array(await new Response(got.stream).arrayBuffer());
      expect(sha256(back)).toBe(sha256(bytes));
      expect(await store.stat(did, cid)).toEqual({ size, quarantined: false });
    });

    test("a 20 MB blob streams in and out byte-identical", async () => {
      const input = generated(20 * MiB);
      const { key, size } = await store.putTemp(input.source);
      expect(size).toBe(20 * MiB);
      const did = freshDid();
      const cid = freshCid();
      await store.makePermanent(key, did, cid);
      const got = await store.get(did, cid);
      expect(got.size).toBe(20 * MiB);
      expect(await digestStream(got.stream)).toEqual({ size: 20 * MiB, sha256: input.digest() });
    }, 60_000);

    test("temp blobs are not served until made permanent, then the temp copy is gone", async () => {
      const did = freshDid();
      const cid = freshCid();
      const { key, size } = await store.putTemp(once(Buffer.from("hello")));
      expect(size).toBe(5);
      expect(await holds(key)).toBe(true);
      expect(await store.stat(did, cid)).toBeNull();
      await expect(store.get(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.makePermanent(key, did, cid);
      expect(Buffer.from(await read(did, cid)).toString()).toBe("hello");
      expect(await holds(key)).toBe(false);
      // A retried commit is harmless: the blob is already filed.
      await store.makePermanent(key, did, cid);
      expect(await store.stat(did, cid)).toEqual({ size: 5, quarantined: false });
    });

    test("deleteTemp drops an upload", async () => {
      const { key } = await store.putTemp(once(Buffer.from("scrap")));
      await store.deleteTemp(key);
      expect(await holds(key)).toBe(false);
      await expect(store.makePermanent(key, freshDid(), freshCid())).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.deleteTemp(key);
    });

    test.each([
      ["small", 3 * 1000, 1000, 2000],
      ["multi-part", 12 * MiB, MiB, 11 * MiB],
    ])("a %s upload whose stream fails leaves nothing behind", async (_, size, chunk, failAfter) => {
      const before = (await suite.inventory()).sort();
      const input = generated(size, chunk, failAfter);
      const err = await store.putTemp(input.source).catch((e: unknown) => e);
      expect((err as Error).message).toBe("source failed mid-stream");
      expect((await suite.inventory()).sort()).toEqual(before);
    }, 30_000);

    test("missing blobs and keys give a typed not-found", async () => {
      const did = freshDid();
      const cid = freshCid();
      expect(await store.stat(did, cid)).toBeNull();
      for (const call of [
        () => store.get(did, cid),
        () => store.getQuarantined(did, cid),
        () => store.makePermanent(newTempKey(), did, cid),
        () => store.quarantine(did, cid),
        () => store.unquarantine(did, cid),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(BlobNotFoundError);
      }
      await store.delete(did, [cid]);
      await store.deleteTemp(newTempKey());
    });

    test("delete removes blobs, quarantined ones included", async () => {
      const { did, cid } = await stored(Buffer.from("one"));
      const { cid: other } = await stored(Buffer.from("two"), did);
      const { cid: kept } = await stored(Buffer.from("three"), did);
      await store.quarantine(did, other);
      await store.delete(did, [cid, other]);
      expect(await store.stat(did, cid)).toBeNull();
      expect(await store.stat(did, other)).toBeNull();
      await expect(store.get(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      expect((await store.list(did)).cids).toEqual([kept]);
    });

    test("list pages through one DID's blobs in CID order", async () => {
      const did = freshDid();
      const cids: string[] = [];
      for (let i = 0; i < 7; i++) cids.push((await stored(Buffer.from(`blob ${i}`), did)).cid);
      await stored(Buffer.from("someone else's"));
      const seen: string[] = [];
      let cursor: string | undefined;
      const sizes: number[] = [];
      for (let page = 0; page < 10; page++) {
        const res = await store.list(did, { cursor, limit: 3 });
        sizes.push(res.cids.length);
        seen.push(...res.cids);
        cursor = res.cursor;
        if (!cursor) break;
      }
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toEqual([...cids].sort());
      expect(await store.list(freshDid())).toEqual({ cids: [] });
    });

    test("quarantine hides a blob, unquarantine restores it", async () => {
      const bytes = randomBytes(2048);
      const { did, cid } = await stored(bytes);
      await store.quarantine(did, cid);
      await store.quarantine(did, cid);
      await expect(store.get(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.stat(did, cid)).toEqual({ size: 2048, quarantined: true });
      expect((await store.list(did)).cids).toEqual([]);
      // Re-uploading the same content does not lift a takedown.
      const again = await store.putTemp(once(bytes));
      await store.makePermanent(again.key, did, cid);
      await expect(store.get(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await holds(again.key)).toBe(false);
      await store.unquarantine(did, cid);
      await store.unquarantine(did, cid);
      expect(sha256(await read(did, cid))).toBe(sha256(bytes));
      expect((await store.list(did)).cids).toEqual([cid]);
    });

    test("getQuarantined streams a quarantined copy only, whole", async () => {
      const bytes = randomBytes(3000);
      const { did, cid } = await stored(bytes);
      await expect(store.getQuarantined(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.quarantine(did, cid);
      const got = await store.getQuarantined(did, cid);
      expect([got.size, got.start, got.end]).toEqual([3000, 0, 2999]);
      expect(sha256(new Uint8Array(await new Response(got.stream).arrayBuffer()))).toBe(sha256(bytes));
      await expect(store.get(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      // What a move does with it: the bytes filed under another store's (did, cid) and quarantined there.
      const copy = await store.putTemp((await store.getQuarantined(did, cid)).stream);
      const [to, toCid] = [freshDid(), freshCid()];
      await store.makePermanent(copy.key, to, toCid);
      await store.quarantine(to, toCid);
      expect(await store.stat(to, toCid)).toEqual({ size: 3000, quarantined: true });
      expect((await digestStream((await store.getQuarantined(to, toCid)).stream)).sha256).toBe(sha256(bytes));
      await store.unquarantine(did, cid);
      await expect(store.getQuarantined(did, cid)).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(sha256(await read(did, cid))).toBe(sha256(bytes));
    });

    test("byte ranges, when supported", async () => {
      const bytes = Buffer.from("0123456789");
      const { did, cid } = await stored(bytes);
      const part = await store.get(did, cid, { start: 2, end: 5 });
      if (!store.capabilities.ranges) {
        expect([part.start, part.end]).toEqual([0, 9]);
        return;
      }
      expect([part.size, part.start, part.end]).toEqual([10, 2, 5]);
      expect(await new Response(part.stream).text()).toBe("2345");
      const tail = await store.get(did, cid, { start: 7, end: 100 });
      expect([tail.start, tail.end, await new Response(tail.stream).text()]).toEqual([7, 9, "789"]);
      const err = await store.get(did, cid, { start: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobRangeError);
      expect((err as BlobRangeError).size).toBe(10);
    });

    test("sweepTemp deletes only temp blobs older than the cutoff", async () => {
      const { cid: permanent, did } = await stored(Buffer.from("kept"));
      const old = await store.putTemp(once(Buffer.from("old")));
      await Bun.sleep(600);
      const young = await store.putTemp(once(Buffer.from("young")));
      expect(await store.sweepTemp(300)).toBeGreaterThanOrEqual(1);
      expect(await holds(old.key)).toBe(false);
      expect(await holds(young.key)).toBe(true);
      expect(await store.stat(did, permanent)).not.toBeNull();
      await store.makePermanent(young.key, did, freshCid());
    });

    const goodDid = freshDid();
    const goodCid = freshCid();
    const badDids = ["../x", "did:plc:../../etc", "/etc/passwd", `did:plc:${"a".repeat(23)}\0`, "did:web:..",
      "did:web:a/../../b", "did:plc:aaaaaaaaaaaaaaaaaaaaaaa/", "", "DID:PLC:AAAAAAAAAAAAAAAAAAAAAAAA"];
    const badCids = ["../x", "/etc/passwd", `bafkrei${"a".repeat(51)}\0`, `bafkrei/../${"a".repeat(50)}`, "b..", "."];
    const badKeys = ["../x", "/tmp/x", "a\0b", `${newTempKey()}/../x`, `../${newTempKey()}`, ""];

    test.each(badDids)("hostile DID %p is rejected before storage is touched", async (did) => {
      const { key } = await store.putTemp(once(Buffer.from("bait")));
      const before = (await suite.inventory()).sort();
      for (const call of [
        () => store.makePermanent(key, did, goodCid),
        () => store.get(did, goodCid),
        () => store.getQuarantined(did, goodCid),
        () => store.stat(did, goodCid),
        () => store.list(did),
        () => store.delete(did, [goodCid]),
        () => store.quarantine(did, goodCid),
        () => store.unquarantine(did, goodCid),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(InvalidBlobRefError);
      }
      expect((await suite.inventory()).sort()).toEqual(before);
      await store.deleteTemp(key);
    });

    test.each(badCids)("hostile CID %p is rejected before storage is touched", async (cid) => {
      const { key } = await store.putTemp(once(Buffer.from("bait")));
      const before = (await suite.inventory()).sort();
      for (const call of [
        () => store.makePermanent(key, goodDid, cid),
        () => store.get(goodDid, cid),
        () => store.getQuarantined(goodDid, cid),
        () => store.stat(goodDid, cid),
        () => store.list(goodDid, { cursor: cid }),
        () => store.delete(goodDid, [cid]),
        () => store.quarantine(goodDid, cid),
        () => store.unquarantine(goodDid, cid),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(InvalidBlobRefError);
      }
      expect((await suite.inventory()).sort()).toEqual(before);
      await store.deleteTemp(key);
    });

    test.each(badKeys)("hostile temp key %p is rejected", async (key) => {
      await expect(store.makePermanent(key, goodDid, goodCid)).rejects.toBeInstanceOf(InvalidBlobRefError);
      await expect(store.deleteTemp(key)).rejects.toBeInstanceOf(InvalidBlobRefError);
    });
  });
}
