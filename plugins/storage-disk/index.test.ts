import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { PluginError } from "@/plugin-kit";
import {
  blobStoreConformance,
  freshCid,
  freshDid,
  generated,
  pluginContext,
} from "@test/conformance/blob-store";
import { disk } from "./index";

const root = mkdtempSync(join(tmpdir(), "aurora-disk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file under `dir`, relative to it (directories left empty by moves do not count). */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

blobStoreConformance("storage-disk", { make: () => disk({ location: root }), inventory: async () => files(root) });

describe("storage-disk", () => {
  test("blobs are sharded by a hash of the DID and by the CID", async () => {
    const ctx = pluginContext();
    const store = disk();
    try {
      await store.init(ctx);
      const did = freshDid();
      const cid = freshCid();
      const { key } = await store.putTemp(generated(10).source);
      expect(files(join(ctx.dataDir, "blobs"))).toEqual([join("tmp", key)]);
      await store.makePermanent(key, did, cid);
      const shard = createHash("sha256").update(did).digest("hex").slice(0, 2);
      expect(files(join(ctx.dataDir, "blobs"))).toEqual([join("blocks", shard, did, cid.slice(-3, -1), cid)]);
      await store.quarantine(did, cid);
      expect(files(join(ctx.dataDir, "blobs"))).toEqual([join("quarantine", shard, did, cid.slice(-3, -1), cid)]);
    } finally {
      await store.close();
      ctx.cleanup();
    }
  });

  test("put and makePermanent resolve only after the file and every directory entry on its way are synced", async () => {
    const ctx = pluginContext();
    const store = disk();
    // Record what each fsync covers, by the path of the handle's descriptor.
    const probe = await open(join(ctx.dataDir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { sync(this: FileHandle): Promise<void> };
    await probe.close();
    const original = proto.sync;
    let synced: string[] = [];
    proto.sync = function (this: FileHandle) {
      synced.push(readlinkSync(`/proc/self/fd/${this.fd}`));
      return original.call(this);
    };
    try {
      await store.init(ctx);
      const blobs = join(realpathSync(ctx.dataDir), "blobs");
      const { key } = await store.putTemp(generated(10).source);
      expect(synced).toEqual([join(blobs, "tmp", `${key}.part`), join(blobs, "tmp")]);
      synced = [];
      const did = freshDid();
      const cid = freshCid();
      await store.makePermanent(key, did, cid);
      const shard = createHash("sha256").update(did).digest("hex").slice(0, 2);
      const dir = join(blobs, "blocks", shard, did, cid.slice(-3, -1));
      // The new file's directory, then each directory created for it in its parent, up to blocks/.
      expect(synced).toEqual([dir, dirname(dir), dirname(dirname(dir)), join(blobs, "blocks")]);
    } finally {
      proto.sync = original;
      await store.close();
      ctx.cleanup();
    }
  });

  test("init fails with a PluginError when the location cannot be created", async () => {
    const ctx = pluginContext();
    writeFileSync(join(ctx.dataDir, "occupied"), "a file, not a directory");
    const err = await disk({ location: "occupied/blobs" }).init(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).message).toContain("[storage-disk]");
    ctx.cleanup();
  });

  test("health fails as unavailable once the directory is gone", async () => {
    const ctx = pluginContext();
    const store = disk();
    await store.init(ctx);
    rmSync(join(ctx.dataDir, "blobs"), { recursive: true });
    const err = await store.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).unavailable).toBe(true);
    ctx.cleanup();
  });

  test("streaming 100 MB through put and get keeps RSS growth far below 100 MB", async () => {
    const probe = Bun.spawn([process.execPath, join(import.meta.dir, "rss-probe.test-helper.ts")], { stdout: "pipe", stderr: "inherit" });
    const result = JSON.parse(await new Response(probe.stdout).text()) as { read: number; intact: boolean; growth: number };
    expect(await probe.exited).toBe(0);
    expect(result.read).toBe(100 * 1024 * 1024);
    expect(result.intact).toBe(true);
    expect(result.growth).toBeLessThan(60 * 1024 * 1024);
  }, 60_000);
});
