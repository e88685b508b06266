/**
 * The keys of Aurora's PostgreSQL advisory locks, shared by the plugin's
 * `lock()` and statements that take a named lock themselves (the sequencer
 * folds its lock into its insert): both must take the same lock for a name.
 */

/** First key of every named lock, so Aurora's locks cannot collide with another application's. */
export const LOCK_SPACE = 0x41555241; // "AURA"

/** A lock name as the second int4 key; a collision only makes two names share a lock. */
export function lockKey(name: string): number {
  return Bun.hash.crc32(name) | 0;
}
