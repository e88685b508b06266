/**
 * Values by string key, bounded in count and in estimated bytes (`weigh`
 * gives a value's estimate), the least recently used dropped first — as
 * CLOCK approximates it: a hit only marks its entry, and eviction moves a
 * marked entry to the young end once instead of dropping it, so a hit costs
 * one lookup and no reordering. The entry being stored is never the one
 * dropped for it, unless it alone is over the bound. The MST node and commit caches
 * (src/repo/mst/cache.ts) and the record values of the record reads
 * (src/repo/reader.ts) are instances.
 */
export class LruCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
    private readonly weigh: (value: T) => number,
  ) {}

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.value;
  }

  set(key: string, value: T): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= old.weight;
    }
    const weight = this.weigh(value);
    this.entries.set(key, { value, weight, used: false });
    this.bytes += weight;
    // A marked entry, or the one just stored while others remain, goes to the young end unmarked; each
    // pass clears every mark it meets, so the loop ends.
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      const [oldKey, entry] = oldest.value;
      this.entries.delete(oldKey);
      if ((entry.used || oldKey === key) && this.entries.size > 0) {
        entry.used = false;
        this.entries.set(oldKey, entry);
      } else {
        this.bytes -= entry.weight;
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }
}

interface Entry<T> {
  readonly value: T;
  readonly weight: number;
  /** Read since it was stored or last given its second chance. */
  used: boolean;
}
