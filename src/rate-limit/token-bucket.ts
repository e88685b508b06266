import type { CacheScript } from "@/contracts/cache";
import { LUA_NOW, type LimitReply, limitArgs } from "./scripts";

/**
 * Token bucket: holds up to `limit` tokens, refilled continuously at
 * `limit` per window; a request takes `cost` tokens. Allows a burst of the
 * whole bucket, then a smooth rate. Tokens are kept multiplied by the
 * window length, so refill (`elapsed ms x limit`) stays in exact integers
 * in Lua and JS alike. The key expires once the bucket would be full again,
 * which is the same as having no key.
 */
export const TOKEN_BUCKET: CacheScript<LimitReply> = {
  name: "rate-limit:token-bucket",
  lua: `${LUA_NOW}
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local cap = limit * window
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1])
local at = tonumber(state[2])
if level == nil or at == nil then level = cap; at = now end
if now > at then level = math.min(cap, level + (now - at) * limit) end
local need = cost * window
local allowed = 0
local retry = 0
if level >= need then
  level = level - need
  allowed = 1
else
  retry = math.ceil((need - level) / limit)
end
local full = math.ceil((cap - level) / limit)
if full > 0 then
  redis.call('HSET', KEYS[1], 'level', level, 'at', now)
  redis.call('PEXPIRE', KEYS[1], full)
else
  redis.call('DEL', KEYS[1])
end
return {allowed, math.floor(level / window), full, retry}`,
  local(store, keys, args) {
    const [limit, window, cost] = limitArgs(args);
    const key = keys[0] as string;
    const now = store.now();
    const cap = limit * window;
    const state = store.get(key) as number[] | null;
    let level = state ? (state[0] as number) : cap;
    const at = state ? (state[1] as number) : now;
    if (now > at) level = Math.min(cap, level + (now - at) * limit);
    const need = cost * window;
    let allowed = 0;
    let retry = 0;
    if (level >= need) {
      level -= need;
      allowed = 1;
    } else {
      retry = Math.ceil((need - level) / limit);
    }
    const full = Math.ceil((cap - level) / limit);
    if (full > 0) store.set(key, [level, now], full);
    else store.delete(key);
    return [allowed, Math.floor(level / window), full, retry];
  },
};
