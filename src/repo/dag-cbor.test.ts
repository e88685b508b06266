import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode as ipldDecode, encode as ipldEncode } from "@ipld/dag-cbor";
import { encode as lexEncode } from "@atproto/lex-cbor";
import { cidForRecord, MemoryBlockstore, MST } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { jsonToData } from "@/lexicon/data-model";
import { BOUNDARY_INTS, fuzzString, fuzzValue, prng } from "@test/support/data-model-fuzz";
import { DagCborEncodeError, encodeDagCbor, MAX_ENCODE_DEPTH } from "./dag-cbor";
import { cidBytesForDagCbor, cidForDagCbor } from "./dag-cbor-cid";

const INTEROP = join(import.meta.dir, "../../../shared/interop");
const readJson = (path: string) => JSON.parse(readFileSync(join(INTEROP, path), "utf8"));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Ours equals @ipld/dag-cbor, compared as hex so a failure shows where. */
function expectSameAsIpld(value: unknown): Uint8Array {
  const ours = encodeDagCbor(value);
  expect(hex(ours)).toBe(hex(ipldEncode(value)));
  return ours;
}

async function ipldCid(bytes: Uint8Array): Promise<string> {
  return CID.createV1(0x71, await sha256.digest(bytes)).toString();
}

describe("interop data-model vectors", () => {
  const fixtures = readJson("data-model/data-model-fixtures.json") as { json: unknown; cbor_base64: string; cid: string }[];
  test.each(fixtures.map((f, i) => [i, f] as const))("fixture %d: bytes and CID", async (_i, fixture) => {
    const value = jsonToData(fixture.json);
    const ours = expectSameAsIpld(value);
    expect(hex(ours)).toBe(hex(Buffer.from(fixture.cbor_base64, "base64")));
    expect(cidForDagCbor(ours).toString()).toBe(fixture.cid);
    expect(cidForDagCbor(ours).toString()).toBe((await cidForRecord(value as never)).toString());
  });

  const valid = readJson("data-model/data-model-valid.json") as { note: string; json: unknown }[];
  test.each(valid.map((v) => [v.note, v.json] as const))("valid: %s", (_note, json) => {
    expectSameAsIpld(jsonToData(json));
  });

  test("invalid: the float vector is refused even before conversion", () => {
    const invalid = readJson("data-model/data-model-invalid.json") as { note: string; json: unknown }[];
    const float = invalid.find((v) => v.note === "float");
    expect(float).toBeDefined();
    expect(() => encodeDagCbor(float!.json)).toThrow(DagCborEncodeError);
  });
});

describe("MST nodes", () => {
  test("every node of an MST built by @atproto/repo from the interop keys re-encodes to its stored bytes", async () => {
    const keys = readFileSync(join(INTEROP, "mst/example_keys.txt"), "utf8").split("\n").filter(Boolean);
    const leaf = cidForDagCbor(encodeDagCbor({ $type: "app.bsky.feed.post", text: "leaf" }));
    let mst = await MST.create(new MemoryBlockstore());
    // Collection-style keys too, so entries have long shared prefixes like real repos.
    const all = [...keys, ...keys.slice(0, 60).map((k, i) => `app.bsky.feed.post/3l${String(i).padStart(11, "a")}${k.slice(3)}`)];
    for (const key of all) mst = await mst.add(key, leaf as never);
    const { blocks } = await mst.getUnstoredBlocks();
    let nodes = 0;
    let bigNodes = 0;
    for (const { cid, bytes } of blocks.entries()) {
      const node = ipldDecode(bytes) as { e: unknown[] };
      const ours = encodeDagCbor(node);
      expect(hex(ours)).toBe(hex(bytes));
      expect(cidForDagCbor(ours).toString()).toBe(cid.toString());
      nodes++;
      if (node.e.length >= 4) bigNodes++;
    }
    expect(nodes).toBeGreaterThan(5);
    expect(bigNodes).toBeGreaterThan(0);
  });
});

describe("fuzzed values", () => {
  test("6,000 seeded random values encode exactly as @ipld/dag-cbor does", () => {
    const r = prng(0x5eed);
    for (let i = 0; i < 6000; i++) {
      const value = fuzzValue(r, i % 3 === 0 ? 0 : 3);
      const wrapped = i % 2 === 0 ? { v: value } : value;
      const ours = encodeDagCbor(wrapped);
      const theirs = ipldEncode(wrapped);
      if (hex(ours) !== hex(theirs)) {
        // Show the failing value, not just bytes.
        expect({ i, value: wrapped, ours: hex(ours) }).toEqual({ i, value: wrapped, ours: hex(theirs) });
      }
    }
  });

  test("every boundary integer, alone and negated", () => {
    for (const n of BOUNDARY_INTS) expectSameAsIpld(n);
    expectSameAsIpld(-0);
  });

  test("strings whose UTF-8 length crosses a head size while their UTF-16 length does not", () => {
    for (const len of [23, 24, 255, 256, 65535, 65536]) {
      for (const unit of ["é", "€", "😀", "a", "\ud800"]) {
        const s = unit.repeat(Math.ceil(len / Buffer.byteLength(unit)));
        expectSameAsIpld(s);
        expectSameAsIpld({ [s.slice(0, 40)]: s, a: [s] });
      }
    }
  });

  test("keys that tie on length and first bytes, and keys past each head size, sort as @ipld/dag-cbor sorts them", () => {
    const obj: Record<string, number> = {};
    const stems = ["abcde", "abcdf", "abcd", "abcdeX", "abcdeY", "abcdeXY", "abcde\u0000", "abcdé", "abcd😀", "\ue000", "😀"];
    for (const stem of stems) obj[stem] = stem.length;
    for (const len of [22, 23, 24, 25, 254, 255, 256, 257, 8190, 8191, 8192, 9000]) {
      obj[`${"k".repeat(len - 1)}a`] = len;
      obj[`${"k".repeat(len - 1)}b`] = -len;
      obj[`${"j".repeat(len)}`] = 0;
    }
    expectSameAsIpld(obj);
    // The cache keeps short keys; a second pass uses the cached entries.
    expectSameAsIpld(obj);
    expectSameAsIpld(new Map(Object.entries(obj).reverse()));
  });

  test("large values grow the buffer and later calls are unaffected", () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    const first = expectSameAsIpld({ big, s: "é".repeat(300_000) });
    const small = expectSameAsIpld({ a: 1 });
    expect(first.length).toBeGreaterThan(3 * 1024 * 1024);
    expect(hex(small)).toBe("a1616101");
  });

  test("results do not share the reused buffer", () => {
    const a = encodeDagCbor({ text: "one" });
    encodeDagCbor({ text: "two" });
    expect(hex(a)).toBe(hex(ipldEncode({ text: "one" })));
  });

  test("CIDs of other multiformats copies, plain CID-shaped objects, Maps, Buffers and typed arrays", async () => {
    const cid = cidForDagCbor(encodeDagCbor({ x: 1 }));
    // multiformats 9, the copy @atproto/lex-data carries: its CIDs signal with `asCID === cid`.
    const oldPath = join(import.meta.dir, "../../node_modules/@atproto/lex-data/node_modules/multiformats/cjs/src/cid.js");
    const { CID: OldCID } = (await import(oldPath)) as { CID: { decode(bytes: Uint8Array): object } };
    const old = OldCID.decode(cid.bytes);
    expect(old instanceof CID).toBe(false);
    expect(hex(encodeDagCbor({ link: old }))).toBe(hex(ipldEncode({ link: cid })));
    const shaped = { "/": cid.bytes, bytes: cid.bytes, code: cid.code, version: cid.version, multihash: cid.multihash };
    expectSameAsIpld({ link: shaped });
    expectSameAsIpld({ notCid: { "/": "x", bytes: "y" }, nor: { bytes: new Uint8Array(2) } });
    expectSameAsIpld(new Map<string, unknown>([["bb", 1], ["a", [2]], ["é", null]]));
    expectSameAsIpld({ buf: Buffer.from("hi"), u16: new Uint16Array([1, 2]), ab: new Uint8Array([9]).buffer });
    expectSameAsIpld(Object.assign(Object.create(null), { z: 1, y: 2 }));
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
    }
    expectSameAsIpld({ p: new Point(1, 2) });
  });

  test("a getter that encodes while encoding gets its own buffer", () => {
    const inner = { get v() { return hex(encodeDagCbor({ deep: [1, 2, 3] })); } };
    const value = { a: "before", inner, z: "after" };
    expect(hex(encodeDagCbor(value))).toBe(hex(ipldEncode({ a: "before", inner: { v: inner.v }, z: "after" })));
  });
});

describe("refusals", () => {
  const bothRefuse: [string, unknown][] = [
    ["undefined at the top", undefined],
    ["undefined in an array", [1, undefined]],
    ["a hole in an array", [1, , 2]], // eslint-disable-line no-sparse-arrays
    ["undefined as a map value", { a: undefined }],
    ["NaN", { a: NaN }],
    ["Infinity", [Infinity]],
    ["-Infinity", -Infinity],
    ["a Map with a number key", new Map<unknown, unknown>([[1, "x"]])],
    ["a Map with an empty key", new Map([["", "x"]])],
    ["a Map with an undefined value", new Map([["a", undefined]])],
    ["a symbol", { a: Symbol("s") }],
    ["a function", [() => 1]],
    ["a Date", { d: new Date(0) }],
    ["a Set", new Set([1])],
    ["a RegExp", /x/],
  ];
  test.each(bothRefuse)("refused like @ipld/dag-cbor: %s", (_name, value) => {
    expect(() => ipldEncode(value)).toThrow();
    expect(() => encodeDagCbor(value)).toThrow(DagCborEncodeError);
  });

  // @ipld/dag-cbor writes these as float64; the atproto data model has no floats, and @atproto/lex-cbor refuses them too.
  const notInDataModel: [string, unknown][] = [
    ["a float", { a: 1.5 }],
    ["a tiny float", [Number.EPSILON]],
    ["2^53", 2 ** 53],
    ["-(2^53)", -(2 ** 53)],
    ["1e300", { big: 1e300 }],
  ];
  test.each(notInDataModel)("refused as the data model requires: %s", (_name, value) => {
    expect(() => lexEncode(value as never)).toThrow();
    expect(() => encodeDagCbor(value)).toThrow(DagCborEncodeError);
  });

  test("bigints: int64 accepted with @ipld/dag-cbor's bytes, beyond refused", () => {
    for (const n of [0n, 23n, -24n, 2n ** 53n, -(2n ** 53n) - 5n, 2n ** 63n - 1n, -(2n ** 63n)]) expectSameAsIpld({ n });
    expect(() => encodeDagCbor(2n ** 63n)).toThrow(DagCborEncodeError);
    expect(() => encodeDagCbor(-(2n ** 63n) - 1n)).toThrow(DagCborEncodeError);
  });

  test("circular and over-deep values are refused, not a stack overflow", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => encodeDagCbor(loop)).toThrow(DagCborEncodeError);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_ENCODE_DEPTH + 1; i++) deep = [deep];
    expect(() => encodeDagCbor(deep)).toThrow(DagCborEncodeError);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_ENCODE_DEPTH; i++) ok = { a: ok };
    expectSameAsIpld(ok);
    // A failed call leaves the encoder usable.
    expect(hex(encodeDagCbor([1]))).toBe("8101");
  });
});

describe("CIDs", () => {
  test("cidForDagCbor equals @atproto/repo cidForRecord and @ipld dag-cbor + sha256 on fuzzed records", async () => {
    const r = prng(42);
    for (let i = 0; i < 300; i++) {
      const record = { $type: "app.bsky.feed.post", text: fuzzString(r), v: fuzzValue(r, 2) };
      const bytes = encodeDagCbor(record);
      const cid = cidForDagCbor(bytes);
      expect(cid.toString()).toBe(await ipldCid(ipldEncode(record)));
      expect(cid.toString()).toBe((await cidForRecord(record as never)).toString());
      expect(hex(cidBytesForDagCbor(bytes))).toBe(hex(cid.bytes));
    }
  });

  test("the CID object behaves like a parsed one", () => {
    const cid = cidForDagCbor(encodeDagCbor({ a: 1 }));
    const parsed = CID.parse(cid.toString());
    expect(cid.equals(parsed)).toBe(true);
    expect(cid.code).toBe(0x71);
    expect(cid.version).toBe(1);
    expect(cid.multihash.code).toBe(0x12);
    expect(hex(cid.multihash.digest)).toBe(hex(parsed.multihash.digest));
    expect(CID.asCID(cid)).toBe(cid);
  });
});
