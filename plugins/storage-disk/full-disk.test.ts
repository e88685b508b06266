/** Out of disk space, storage-disk fails with an `unavailable` PluginError: a 503 with Retry-After, never a 500. */
import { expect, test } from "bun:test";
import { PluginError } from "@/errors";
import { errorResponse } from "@/http/respond";
import { createLogger } from "@/log";
import { fsCall, fsError } from "./file-io";

const errno = (code: string) => Object.assign(new Error(`${code}: from the kernel`), { code });

test.each([
  ["ENOSPC", true, 503],
  ["EDQUOT", true, 503],
  ["EACCES", false, 500],
  ["EIO", false, 500],
])("fsError(%s): unavailable %p, answered %p", (code, unavailable, status) => {
  const err = fsError("storage-disk", "write temp file", errno(code));
  expect(err).toBeInstanceOf(PluginError);
  expect(err.unavailable).toBe(unavailable);
  expect(err.message).toStartWith("[aurora] [storage-disk] write temp file failed");
  expect((err.cause as Error).message).toContain(code);
  const res = errorResponse(err, createLogger("error", () => {}));
  expect(res.status).toBe(status);
  expect(res.headers.get("retry-after")).toBe(unavailable ? "5" : null);
});

test("fsCall passes an ENOSPC through fsError", async () => {
  const err = await fsCall("storage-disk", "write temp file", () => Promise.reject(errno("ENOSPC"))).catch((e: unknown) => e);
  expect((err as PluginError).unavailable).toBe(true);
  expect((err as PluginError).message).toContain("out of disk space");
});
