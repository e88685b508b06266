import { createHash } from "node:crypto";
import type Redis from "ioredis";
import { ReplyError } from "ioredis";
import type { CacheScript } from "@/plugin-kit";

const shas = new WeakMap<CacheScript<unknown>, string>();

function shaOf(script: CacheScript<unknown>): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script.lua).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}

/**
 * Runs a script by its SHA1 (EVALSHA) so the source crosses the wire only
 * when Redis does not know it yet (first use, or after a Redis restart):
 * then EVAL runs it and leaves it in Redis's script cache for the next call.
 */
export async function runScript<Result>(
  conn: Redis,
  script: CacheScript<Result>,
  keys: readonly string[],
  args: readonly string[],
): Promise<Result> {
  const sha = shaOf(script as CacheScript<unknown>);
  try {
    return (await conn.evalsha(sha, keys.length, ...keys, ...args)) as Result;
  } catch (err) {
    if (!(err instanceof ReplyError) || !(err as Error).message.startsWith("NOSCRIPT")) throw err;
    return (await conn.eval(script.lua, keys.length, ...keys, ...args)) as Result;
  }
}
