import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * The few filesystem steps a backup needs to survive a crash or a power loss:
 * a file is synced before it is renamed into place, and the directory after,
 * so a name that exists always names whole, durable content.
 */

/** fsync a file or a directory by path (a directory's fsync makes its entries durable). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync every regular file under `dir` (recursively), then every directory bottom-up. */
export async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else if (entry.isFile()) await syncPath(path);
  }
  await syncPath(dir);
}

/** Rename `from` to `to` and sync the directories of both, so the move survives a power loss. */
export async function durableRename(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncPath(dirname(to));
  if (dirname(from) !== dirname(to)) await syncPath(dirname(from));
}

/** Write `text` to `path` and fsync it (the caller renames the directory holding it into place). */
export async function writeSynced(path: string, text: string | Uint8Array): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "wx");
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/** Hex SHA-256 and size of a file, streamed (the database file of a backup can be large). */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Whether `path` exists (any kind of entry). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Remove a directory tree; gone already is fine. */
export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
