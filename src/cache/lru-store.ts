import type { LocalScriptStore, LocalValue } from "@/contracts/cache";

interface Entry {
  value: LocalValue;
  expiresAt: number;
  bytes: number;
}

/**
 * A Map bounded by entry count and by an estimate of bytes, evicting the
 * least recently used first, with a TTL on every entry. A Map keeps insertion
 * order, so re-inserting on access makes the first key the least recently
 * used. Expired entries go when touched or when eviction reaches them.
 * It is also the store that scripts' local halves run against.
 */
export class LruStore implements LocalScriptStore {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  now(): number {
    return Date.now();
  }

  get(key: string): LocalValue | null {
    const entry = this.live(key);
    if (!entry) return null;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** A value too large for `maxBytes` on its own is not stored (and the old one is gone). */
  set(key: string, value: LocalValue, ttlMs: number): void {
    this.delete(key);
    const entry = { value, expiresAt: Date.now() + ttlMs, bytes: sizeOf(key, value) };
    if (entry.bytes > this.maxBytes) return;
    this.entries.set(key, entry);
    this.totalBytes += entry.bytes;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries && this.totalBytes <= this.maxBytes) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  pttl(key: string): number {
    const entry = this.live(key);
    return entry ? entry.expiresAt - Date.now() : -2;
  }

  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) this.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** JS strings are UTF-16 (2 bytes a unit); numbers are 8-byte doubles. An estimate, not a measurement. */
function sizeOf(key: string, value: LocalValue): number {
  return key.length * 2 + (typeof value === "string" ? value.length * 2 : value.length * 8);
}
