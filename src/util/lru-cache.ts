/**
 * Values by string key, bounded in count and in estimated bytes (`weigh`
 * gives a value's estimate), the least recently used dropped first — as
 * CLOCK approximates it: a hit only marks its entry, and eviction moves a
 * marked entry to the young end once instead of dropping it, so a hit costs
 * one lookup and no reordering. The entry being stored is never the one
 * dropped for it, unless it alone is over the bound. The MST node and commit caches
 * (src/repo/mst/cache.ts), the record values of the record reads
 * (src/repo/reader.ts), the opened signing keys and the memory cache's store
 * (src/cache/lru-store.ts) are instances.
 *
 * The age order is a linked list of the entries, not the Map's insertion
 * order: taking a Map's first key after deleting from its front walks over
 * every deleted slot still in its table (JavaScriptCore and V8 alike), which
 * made each eviction cost about 16 µs at 10,000 entries (bench/lru-cache.ts).
 */
export class LruCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  /** Oldest and youngest entry of the age list. */
  private head: Entry<T> | undefined;
  private tail: Entry<T> | undefined;
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

  /** The value without marking it used (reading it this way does not delay its eviction). */
  peek(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: string, value: T): void {
    this.delete(key);
    const entry: Entry<T> = { key, value, weight: this.weigh(value), used: false, older: undefined, younger: undefined };
    this.entries.set(key, entry);
    this.append(entry);
    this.bytes += entry.weight;
    // A marked entry, or the one just stored while others remain, goes to the young end unmarked; each
    // pass clears every mark it meets, so the loop ends.
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.head!;
      this.unlink(oldest);
      if ((oldest.used || oldest === entry) && this.entries.size > 1) {
        oldest.used = false;
        this.append(oldest);
      } else {
        this.entries.delete(oldest.key);
        this.bytes -= oldest.weight;
      }
    }
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.unlink(entry);
    this.bytes -= entry.weight;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.head = this.tail = undefined;
    this.bytes = 0;
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  private append(entry: Entry<T>): void {
    entry.older = this.tail;
    entry.younger = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.younger = entry;
    this.tail = entry;
  }

  private unlink(entry: Entry<T>): void {
    if (entry.older === undefined) this.head = entry.younger;
    else entry.older.younger = entry.younger;
    if (entry.younger === undefined) this.tail = entry.older;
    else entry.younger.older = entry.older;
    entry.older = entry.younger = undefined;
  }
}

interface Entry<T> {
  readonly key: string;
  readonly value: T;
  readonly weight: number;
  /** Read since it was stored or last given its second chance. */
  used: boolean;
  older: Entry<T> | undefined;
  younger: Entry<T> | undefined;
}
