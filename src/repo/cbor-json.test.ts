import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode as ipldDecode, encode as ipldEncode } from "@ipld/dag-cbor";
import { dataToJson } from "@/lexicon/data-model";
import { fuzzValue, prng } from "@test/support/data-model-fuzz";
import { CborJsonError, cborToJson } from "./cbor-json";

// cborToJson must mean exactly what decode + dataToJson + JSON.stringify means (key order aside: JSON maps have none).
const reference = (bytes: Uint8Array) => dataToJson(ipldDecode(bytes));
const INTEROP = join(import.meta.dir, "../../../shared/interop");

describe("cborToJson", () => {
  test("the interop data-model fixtures read as their JSON", () => {
    const fixtures = JSON.parse(readFileSync(join(INTEROP, "data-model/data-model-fixtures.json"), "utf8")) as { json: unknown; cbor_base64: string }[];
    for (const f of fixtures) {
      const bytes = new Uint8Array(Buffer.from(f.cbor_base64, "base64"));
      expect(JSON.parse(cborToJson(bytes))).toEqual(f.json);
      expect(JSON.parse(cborToJson(bytes))).toEqual(reference(bytes));
    }
  });

  test("6,000 fuzzed values mean the same as the decode-and-convert path", () => {
    const r = prng(0xc0ffee);
    for (let i = 0; i < 6000; i++) {
      const value = fuzzValue(r, i % 3 === 0 ? 0 : 3);
      const bytes = ipldEncode(i % 2 === 0 ? { v: value } : value);
      const text = cborToJson(bytes);
      const parsed = JSON.parse(text);
      if (!Bun.deepEquals(parsed, reference(bytes), true)) expect({ i, text }).toEqual({ i, text: JSON.stringify(reference(bytes)) });
    }
  });

  test("text that needs escaping or is not ASCII comes out as JSON.stringify writes it", () => {
    for (const s of ['quote " and \\ backslash', "tab\tnew\nline\u0001", "é日本語😀", "\u007f", "x".repeat(70), "é".repeat(70)]) {
      expect(cborToJson(ipldEncode({ s }))).toBe(`{"s":${JSON.stringify(s)}}`);
    }
  });

  test("malformed blocks are a CborJsonError, never wrong output", () => {
    const bad = [
      new Uint8Array([]), // nothing
      new Uint8Array([0x62, 0x61]), // a 2-byte string with 1 byte
      new Uint8Array([0xa1, 0x01, 0x02]), // a map key that is not a string
      new Uint8Array([0xc1, 0x00]), // tag 1
      new Uint8Array([0x9f, 0xff]), // indefinite-length array
      new Uint8Array([0x61, 0xff]), // not UTF-8
      new Uint8Array([0x01, 0x02]), // bytes after the value
      new Uint8Array([0xd8, 0x2a, 0x42, 0x01, 0x02]), // a CID without its 0x00 prefix
      new Uint8Array([0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]), // Infinity
      new Uint8Array(300).fill(0x81), // nested too deeply
    ];
    for (const bytes of bad) expect(() => cborToJson(bytes)).toThrow(CborJsonError);
  });
});
