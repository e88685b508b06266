import type { CacheScript } from "@/contracts/cache";

/**
 * `incr` as a cache script, shared by both backends. KEYS[1] is the counter,
 * ARGV[1] the increment and ARGV[2] the TTL in milliseconds, applied only
 * when the key has none, i.e. when this call created it.
 */
export const INCR_SCRIPT: CacheScript<number> = {
  name: "incr",
  lua: `local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`,
  local(store, keys, args) {
    const key = keys[0] as string;
    const current = store.get(key);
    if (current !== null && (typeof current !== "string" || !/^-?\d+$/.test(current))) {
      throw new Error("value is not an integer");
    }
    const value = Number(current ?? "0") + Number(args[0]);
    const remaining = store.pttl(key);
    store.set(key, String(value), remaining > 0 ? remaining : Number(args[1]));
    return value;
  },
};
