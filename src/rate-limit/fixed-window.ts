import type { CacheScript } from "@/contracts/cache";
import { type LimitReply, limitArgs } from "./scripts";

/**
 * Fixed window counter: the window opens with a key's first request and
 * the count resets when it closes (the key's TTL). Cheap and small (one
 * integer per key); a client can get 2x the limit across a window edge.
 * No clock is needed: the TTL is the window.
 */
export const FIXED_WINDOW: CacheScript<LimitReply> = {
  name: "rate-limit:fixed-window",
  lua: `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then used = tonumber(redis.call('GET', KEYS[1])) else ttl = window end
if used + cost > limit then return {0, math.max(0, limit - used), ttl, ttl} end
redis.call('SET', KEYS[1], used + cost, 'PX', ttl)
return {1, limit - used - cost, ttl, 0}`,
  local(store, keys, args) {
    const [limit, window, cost] = limitArgs(args);
    const key = keys[0] as string;
    let ttl = store.pttl(key);
    let used = 0;
    if (ttl > 0) used = (store.get(key) as number[])[0] as number;
    else ttl = window;
    if (used + cost > limit) return [0, Math.max(0, limit - used), ttl, ttl];
    store.set(key, [used + cost], ttl);
    return [1, limit - used - cost, ttl, 0];
  },
};
