import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { type BlobSource, PluginError } from "@/plugin-kit";

/** Bytes read per chunk when serving a file: large enough for throughput, small enough for RSS. */
const READ_CHUNK = 64 * 1024;

/**
 * Write `source` to `partPath` chunk by chunk (awaiting each write is the
 * back-pressure), then rename it to `finalPath` so readers only ever see a
 * whole file. The file is synced before the rename and its directory after,
 * so once this resolves the blob survives a power loss under its final name.
 * On any failure the part file is removed; an error thrown by the source is
 * rethrown unchanged, a filesystem error becomes a PluginError.
 */
export async function writeAtomically(
  plugin: string,
  source: BlobSource,
  partPath: string,
  finalPath: string,
): Promise<number> {
  let handle: FileHandle | undefined;
  let size = 0;
  try {
    const opened = await fsCall(plugin, "create temp file", () => open(partPath, "wx"));
    handle = opened;
    for await (const chunk of source) {
      await fsCall(plugin, "write temp file", () => writeAll(opened, chunk));
      size += chunk.byteLength;
    }
    await fsCall(plugin, "sync temp file", () => opened.sync());
    handle = undefined;
    await fsCall(plugin, "close temp file", () => opened.close());
    await fsCall(plugin, "publish temp file", () => rename(partPath, finalPath));
    await syncDirectory(plugin, dirname(finalPath));
    return size;
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(partPath).catch(() => {});
    throw err;
  }
}

/**
 * fsync a directory, making the names created, renamed or removed in it
 * durable (a file's own fsync does not cover its directory entry).
 */
export async function syncDirectory(plugin: string, dir: string): Promise<void> {
  await fsCall(plugin, `sync directory ${dir}`, async () => {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** A write may be short; loop until the whole chunk is on disk. */
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten <= 0) throw new Error("write made no progress");
    offset += bytesWritten;
  }
}

/**
 * A web stream over bytes [start, end] of an open file, read on demand. The
 * handle is opened before the blob is reported found, so a concurrent delete
 * cannot cut the response short; it is closed at the end, on error and on
 * cancel.
 */
export function fileStream(plugin: string, handle: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let position = start;
  const done = () => handle.close().catch(() => {});
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const remaining = end - position + 1;
      if (remaining <= 0) {
        await done();
        controller.close();
        return;
      }
      try {
        const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
        if (bytesRead === 0) throw new Error(`file ended ${remaining} bytes early`);
        position += bytesRead;
        controller.enqueue(bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead));
      } catch (cause) {
        await done();
        controller.error(new PluginError(plugin, `read failed: ${(cause as Error).message}`, { cause }));
      }
    },
    cancel: done,
  });
}

/** Run a filesystem call, turning its error into a PluginError (see `fsError`). */
export async function fsCall<T>(plugin: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw fsError(plugin, what, cause);
  }
}

/** Errors that end when the operator frees space: a full disk or an exhausted quota. */
const OUT_OF_SPACE = new Set(["ENOSPC", "EDQUOT"]);

/**
 * A filesystem error as a PluginError that names the plugin and keeps
 * `cause`. Out of space it is `unavailable` (a 503 with Retry-After: the
 * write may succeed once space is freed), not a 500.
 */
export function fsError(plugin: string, what: string, cause: unknown): PluginError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const full = code !== undefined && OUT_OF_SPACE.has(code);
  return new PluginError(plugin, `${what} failed${full ? " (out of disk space)" : ""}: ${(cause as Error).message}`, { cause, unavailable: full });
}

export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? codeOfCause(err);
  return code === "ENOENT";
}

function codeOfCause(err: unknown): string | undefined {
  return ((err as Error | undefined)?.cause as NodeJS.ErrnoException | undefined)?.code;
}
