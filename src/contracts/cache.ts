import type { Plugin } from "./plugin";

/**
 * A value held by a script in the built-in memory cache. Strings mirror Redis
 * strings; a number array stands in for what a Lua script keeps in a Redis
 * list, hash or sorted set (timestamps of a sliding log, `[tokens, at]` of a
 * token bucket) so the local twin does not parse JSON on every call.
 */
export type LocalValue = string | number[];

/**
 * The synchronous view of the memory cache that a script's `local` function
 * gets. Nothing else runs while it does (JS is single-threaded), which is
 * what makes the local twin as atomic as the Lua one.
 */
export interface LocalScriptStore {
  /** Milliseconds since the epoch: the clock a local script uses where Lua calls `TIME`. */
  now(): number;
  /** The value, or null when missing or expired. Arrays are live: `set` them again after changing them. */
  get(key: string): LocalValue | null;
  /** Stores `value` for `ttlMs` (> 0) milliseconds, replacing value and TTL. */
  set(key: string, value: LocalValue, ttlMs: number): void;
  delete(key: string): void;
  /** Remaining lifetime in milliseconds, or -2 when the key is missing (Redis PTTL). */
  pttl(key: string): number;
}

/**
 * One atomic operation written twice: as Lua for Redis (run with EVALSHA,
 * atomically on the server) and as a local function for the memory cache.
 * Both see the same `keys` (the plugin adds its key prefix; scripts touch only
 * the keys they are given, as Redis requires) and the same `args` as strings
 * (Lua's ARGV), and both must return the same shape: an integer, a string,
 * null, or an array of those. Lua truncates numbers to integers on return, so
 * return fractions as strings. Keys a script writes are script state: read
 * them only through scripts, never with `get`.
 *
 * A rate limiter that loses Redis (`atomic` throws with `unavailable: true`)
 * runs the same script on a memory cache instead: that is why both halves
 * live in one object.
 */
export interface CacheScript<Result> {
  /** Short name for errors and logs, e.g. `rate-limit:fixed-window`. */
  readonly name: string;
  /** Lua source; KEYS and ARGV as in EVAL. Use `redis.call('TIME')` for a clock shared by every node. */
  readonly lua: string;
  /** The same operation on the memory cache. */
  local(store: LocalScriptStore, keys: readonly string[], args: readonly string[]): Result;
}

/** Called once per message, asynchronously, never inside `publish()`. */
export type MessageHandler = (message: string) => void;

/** Stops delivery to one handler at once (also for messages already in flight). Safe to call twice. */
export type Unsubscribe = () => void;

/**
 * Cache backend: the built-in memory cache (src/cache/memory.ts) or
 * plugins/cache-redis. Values are strings; callers serialise. Keys and
 * channel names are the caller's; a plugin may put its own prefix in front
 * (Redis: CACHE_KEY_PREFIX) and never shows it to callers.
 *
 * Failure model: a cache is an optimisation, so when a shared backend is
 * unreachable `get` answers null and the writes (`set`, `delete`,
 * `deletePrefix`, `publish`) are dropped, each counted and logged by the
 * plugin. `incr` and `atomic` cannot pretend: they throw a `PluginError`
 * with `unavailable: true`, and their callers (rate limiters) fall back to a
 * local store. After a command timeout the server may still have applied
 * the operation: a counter can be one ahead, never behind. Logic errors (a non-integer counter, a failing script) throw a
 * `PluginError` with `unavailable: false` everywhere.
 */
export interface CachePlugin extends Plugin<"cache"> {
  /** Entries written on one node are seen by every node, and messages reach every node. */
  readonly shared: boolean;
  /** The value, or null when missing or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` for `ttlSeconds` (> 0; fractions allowed), replacing any value and TTL. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Removes the key; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes every key that starts with `prefix` (non-empty; matched literally,
   * glob characters included), e.g. `handle:` or `session:did:plc:abc:`.
   * Not atomic: a key written while it runs may survive. Cost is linear in
   * the number of keys the backend holds.
   */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Adds the integer `by` (may be negative) to the counter at `key` and
   * returns the new value; a missing key counts from 0. Atomic across every
   * node sharing the backend. The TTL is set only when the key is created
   * (so a fixed window does not slide); later calls leave it alone.
   */
  incr(key: string, by: number, ttlSeconds: number): Promise<number>;
  /** Runs `script` atomically on `keys` with `args`; see `CacheScript`. */
  atomic<Result>(script: CacheScript<Result>, keys: readonly string[], args: readonly (string | number)[]): Promise<Result>;
  /** Sends `message` to every subscriber of `channel` on every node sharing the backend, this one included. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `handler` for each message published on `channel` after the
   * returned promise resolves. With a shared backend the subscription
   * survives reconnects; messages published while disconnected are lost
   * (pub/sub is a signal to re-read the database, not a queue).
   */
  subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe>;
}

/** The methods a cache plugin must have beyond the lifecycle; checked when the config loads. */
export const CACHE_METHODS = [
  "get",
  "set",
  "delete",
  "deletePrefix",
  "incr",
  "atomic",
  "publish",
  "subscribe",
] as const satisfies readonly (keyof CachePlugin)[];
