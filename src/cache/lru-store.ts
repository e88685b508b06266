import type { LocalScriptStore, LocalValue } from "@/contracts/cache";
import { LruCache } from "@/util/lru-cache";

interface Entry {
  value: LocalValue;
  expiresAt: number;
  bytes: number;
}

/**
 * Bounded by entry count and by an estimate of bytes, the least recently
 * used going first as src/util/lru-cache.ts approximates it, with a TTL on
 * every entry. Expired entries go when touched or when eviction reaches them.
 * It is also the store that scripts' local halves run against.
 */
export class LruStore implements LocalScriptStore {
  private readonly entries: LruCache<Entry>;

  constructor(maxEntries: number, maxBytes: number) {
    this.entries = new LruCache<Entry>(maxEntries, maxBytes, (entry) => entry.bytes);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.byteSize;
  }

  now(): number {
    return Date.now();
  }

  get(key: string): LocalValue | null {
    return this.live(key, this.entries.get(key))?.value ?? null;
  }

  /** A value too large for `maxBytes` on its own is not stored (and the old one is gone). */
  set(key: string, value: LocalValue, ttlMs: number): void {
    this.entries.delete(key);
    const entry = { value, expiresAt: Date.now() + ttlMs, bytes: sizeOf(key, value) };
    if (entry.bytes > this.entries.maxBytes) return;
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  pttl(key: string): number {
    const entry = this.live(key, this.entries.peek(key));
    return entry ? entry.expiresAt - Date.now() : -2;
  }

  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  /** `entry` (stored under `key`) unless it has expired, in which case it goes. */
  private live(key: string, entry: Entry | undefined): Entry | undefined {
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** JS strings are UTF-16 (2 bytes a unit); numbers are 8-byte doubles. An estimate, not a measurement. */
function sizeOf(key: string, value: LocalValue): number {
  return key.length * 2 + (typeof value === "string" ? value.length * 2 : value.length * 8);
}
