/**
 * Micro-benchmark of src/util/lru-cache.ts at the sizes its instances run
 * at (the MST node cache holds 10,000 nodes, the memory cache 100,000
 * entries), full, so every store evicts: each step stores a new key and
 * reads five recent ones. Beside it, the same bounded cache kept in a Map's
 * insertion order (evict its first key), as LruCache was before: taking a
 * Map's first key after deleting from its front walks over the deleted slots.
 *
 *   flock /tmp/aurora-heavy.lock node_modules/.bin/bun bench/lru-cache.ts
 *
 * Bounded: 100,000 steps per case, about 10 s in all.
 */
import { LruCache } from "@/util/lru-cache";

const STEPS = 100_000;

/** A bounded cache evicting in a Map's insertion order. */
class MapOrderCache<T> {
  private readonly entries = new Map<string, T>();
  constructor(private readonly maxEntries: number) {}
  get(key: string): T | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

function run(size: number, cache: { get(key: string): unknown; set(key: string, value: number): void }): number {
  const keys = Array.from({ length: size + STEPS }, (_, i) => `bafyrei${i.toString(36).padStart(52, "a")}`);
  for (let i = 0; i < size; i++) cache.set(keys[i]!, i);
  const start = Bun.nanoseconds();
  for (let i = size; i < size + STEPS; i++) {
    cache.set(keys[i]!, i);
    for (let j = 1; j <= 5; j++) cache.get(keys[i - j * 37]!);
  }
  return (Bun.nanoseconds() - start) / STEPS / 1000;
}

for (const size of [1_000, 10_000, 100_000]) {
  const ours = run(size, new LruCache<number>(size, Number.POSITIVE_INFINITY, () => 0));
  const mapOrder = run(size, new MapOrderCache<number>(size));
  console.log(`${String(size).padStart(7)} entries: LruCache ${ours.toFixed(2)} µs per step, Map order ${mapOrder.toFixed(2)} µs (${(mapOrder / ours).toFixed(1)}×)`);
}
