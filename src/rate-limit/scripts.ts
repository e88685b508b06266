/**
 * What every limit script returns, as integers (Lua truncates numbers):
 * `[allowed 0|1, remaining, resetMs, retryMs]`. Each script takes
 * KEYS[1] = its state and ARGV = limit, window in ms, cost in points; a
 * refused request consumes nothing.
 */
export type LimitReply = [allowed: number, remaining: number, resetMs: number, retryMs: number];

/** Lua prologue of the scripts that need a clock: Redis's own, the same for every node. */
export const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** The three numeric arguments, in a local half. */
export function limitArgs(args: readonly string[]): [limit: number, windowMs: number, cost: number] {
  return [Number(args[0]), Number(args[1]), Number(args[2])];
}
