import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { resolveConfig } from "@/config/resolve";
import { createCacheAside } from "./aside";
import { memory } from "./memory";

const setup = async (enabled = true) => {
  const cache = memory();
  const registry = new Registry();
  const caching = { ...resolveConfig({}).caching, enabled, handleTtl: 1 };
  return { cache, registry, aside: createCacheAside(cache, caching, registry) };
};

describe("cache-aside", () => {
  test("loads once, then answers from the cache, and counts hits, misses and the hit rate", async () => {
    const { aside, registry } = await setup();
    let loads = 0;
    const load = async () => ({ did: "did:plc:abc", n: ++loads });
    expect(await aside.get("did:doc", "did:plc:abc", load)).toEqual({ did: "did:plc:abc", n: 1 });
    expect(await aside.get("did:doc", "did:plc:abc", load)).toEqual({ did: "did:plc:abc", n: 1 });
    expect(await aside.get("did:doc", "did:plc:abc", load)).toEqual({ did: "did:plc:abc", n: 1 });
    expect(loads).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('aurora_cache_hits_total{category="did:doc"} 2');
    expect(text).toContain('aurora_cache_misses_total{category="did:doc"} 1');
    expect(text).toMatch(/aurora_cache_hit_rate\{category="did:doc"\} 0\.66/);
  });

  test("the category's TTL applies", async () => {
    const { aside } = await setup();
    let loads = 0;
    const load = async () => `alice.test#${++loads}`;
    await aside.get("did:handle", "did:plc:a", load);
    await Bun.sleep(1100);
    expect(await aside.get("did:handle", "did:plc:a", load)).toBe("alice.test#2");
  });

  test("invalidate forces the next read to load", async () => {
    const { aside } = await setup();
    let loads = 0;
    const load = async () => ++loads;
    await aside.get("session", "jti-1", load);
    await aside.invalidate("session", "jti-1");
    expect(await aside.get("session", "jti-1", load)).toBe(2);
  });

  test("null is not cached; a disabled cache always loads", async () => {
    const { aside } = await setup();
    let loads = 0;
    await aside.get("repo", "x", async () => (++loads, null));
    await aside.get("repo", "x", async () => (++loads, null));
    expect(loads).toBe(2);
    const disabled = (await setup(false)).aside;
    let direct = 0;
    await disabled.get("repo", "y", async () => ++direct);
    await disabled.get("repo", "y", async () => ++direct);
    expect(direct).toBe(2);
  });
});
