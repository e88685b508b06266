import type { CacheScript } from "@/contracts/cache";
import { LUA_NOW, type LimitReply, limitArgs } from "./scripts";

/** Members per ZADD call: Lua's unpack() has a stack limit of a few thousand values. */
const ZADD_CHUNK = 500;

/**
 * Sliding window log: one timestamp per point spent in the last window (a
 * sorted set in Redis, a sorted array locally); a request passes when the
 * points still in the window plus its cost fit. Exact, with no edge
 * bursts, at the price of memory proportional to the limit. Members are
 * `now:n`, unique because within one millisecond nothing expires and the
 * count only grows.
 */
export const SLIDING_LOG: CacheScript<LimitReply> = {
  name: "rate-limit:sliding-log",
  lua: `${LUA_NOW}
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + cost > limit then
  local reset = window
  local retry = window
  if used > 0 then
    local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    reset = tonumber(newest[2]) + window - now
  end
  if cost <= limit then
    local freeing = redis.call('ZRANGE', KEYS[1], used + cost - limit - 1, used + cost - limit - 1, 'WITHSCORES')
    retry = tonumber(freeing[2]) + window - now
  end
  return {0, math.max(0, limit - used), reset, retry}
end
local i = 0
while i < cost do
  local batch = {}
  local last = math.min(cost, i + ${ZADD_CHUNK})
  for n = i + 1, last do
    batch[#batch + 1] = now
    batch[#batch + 1] = now .. ':' .. (used + n)
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
  i = last
end
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - used - cost, window, 0}`,
  local(store, keys, args) {
    const [limit, window, cost] = limitArgs(args);
    const key = keys[0] as string;
    const now = store.now();
    const log = (store.get(key) as number[] | null) ?? [];
    let expired = 0;
    while (expired < log.length && (log[expired] as number) <= now - window) expired++;
    if (expired > 0) log.splice(0, expired);
    const used = log.length;
    if (used + cost > limit) {
      const reset = used > 0 ? (log[used - 1] as number) + window - now : window;
      const retry = cost <= limit ? (log[used + cost - limit - 1] as number) + window - now : window;
      if (used > 0) store.set(key, log, reset);
      else store.delete(key);
      return [0, Math.max(0, limit - used), reset, retry];
    }
    for (let n = 0; n < cost; n++) log.push(now);
    store.set(key, log, window);
    return [1, limit - used - cost, window, 0];
  },
};
