/**
 * Data model vectors against Aurora's JSON ⇄ data model conversion (the
 * request layer's job): valid documents convert, invalid ones are refused,
 * and the fixtures encode to the exact DAG-CBOR bytes and CIDs.
 */
import { describe, expect, test } from "bun:test";
import { cidForRecord } from "@atproto/repo";
import { decode, encode } from "@ipld/dag-cbor";
import { dataToJson, jsonToData, jsonToDataMap } from "@/lexicon/data-model";
import { interopJson } from "./vectors";

interface Case {
  note: string;
  json: unknown;
}

describe("data-model vectors", () => {
  test.each(interopJson<Case[]>("data-model/data-model-valid.json").map((c) => [c.note, c.json]))("valid: %s", (_note, json) => {
    expect(() => jsonToDataMap(json)).not.toThrow();
  });

  test.each(interopJson<Case[]>("data-model/data-model-invalid.json").map((c) => [c.note, c.json]))("invalid: %s", (_note, json) => {
    expect(() => jsonToDataMap(json)).toThrow();
  });

  const fixtures = interopJson<{ json: unknown; cbor_base64: string; cid: string }[]>("data-model/data-model-fixtures.json");
  test.each(fixtures.map((f, i) => [i, f]))("fixture %d: DAG-CBOR bytes, CID and the JSON round trip", async (_i, f) => {
    const data = jsonToData(f.json);
    expect(Buffer.from(encode(data)).toString("base64").replace(/=+$/, "")).toBe(f.cbor_base64);
    expect((await cidForRecord(data as never)).toString()).toBe(f.cid);
    expect(dataToJson(decode(Buffer.from(f.cbor_base64, "base64")))).toEqual(f.json);
  });
});
