import type Redis from "ioredis";
import { PluginError } from "@/plugin-kit";

/** Keys per SCAN step and per UNLINK: small enough not to stall Redis, large enough to be quick. */
const BATCH = 500;
/** SCAN always ends; this only turns a runaway into an error (500 x 200000 = 100 M keys). */
const MAX_STEPS = 200_000;

/** SCAN MATCH is a glob: a literal prefix must escape `* ? [ ] \`. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/**
 * Deletes every key starting with `fullPrefix` with SCAN (never KEYS, which
 * blocks Redis for the whole keyspace) and UNLINK (memory freed off the main
 * thread) in batches, on one connection.
 */
export async function deleteByPrefix(plugin: string, conn: Redis, fullPrefix: string): Promise<void> {
  const pattern = `${globEscape(fullPrefix)}*`;
  let cursor = "0";
  for (let step = 0; step < MAX_STEPS; step++) {
    const [next, keys] = await conn.scan(cursor, "MATCH", pattern, "COUNT", BATCH);
    if (keys.length > 0) await conn.unlink(...keys);
    if (next === "0") return;
    cursor = next;
  }
  throw new PluginError(plugin, `deletePrefix ${JSON.stringify(fullPrefix)} did not finish in ${MAX_STEPS} SCAN steps`);
}
