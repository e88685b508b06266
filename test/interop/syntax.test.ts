/**
 * Identifier syntax vectors against the checks the repo endpoints make:
 * the request-level wrappers (collection, rkey, repo, rev) and the lexicon
 * string formats records are validated with (interop catalog lexicon).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import type { LexiconDoc } from "@atproto/lexicon";
import { assertDid, assertNsid, assertRecordKey, assertTid, isAtIdentifier, isValidAtUri } from "@/lexicon/syntax";
import { RecordValidator } from "@/lexicon/validator";
import { INTEROP, interopJson, interopLines } from "./vectors";

const wrappers: [string, (value: string) => boolean][] = [
  ["nsid", (v) => passes(() => assertNsid(v))],
  ["recordkey", (v) => passes(() => assertRecordKey(v))],
  ["did", (v) => passes(() => assertDid(v))],
  ["tid", (v) => passes(() => assertTid(v))],
  ["atidentifier", isAtIdentifier],
  ["aturi", isValidAtUri],
];

function passes(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

describe("syntax vectors: request checks", () => {
  for (const [name, accepts] of wrappers) {
    test(`${name}: every valid value passes, every invalid one is refused`, () => {
      const valid = interopLines(`syntax/${name}_syntax_valid.txt`);
      const invalid = interopLines(`syntax/${name}_syntax_invalid.txt`);
      expect(valid.length).toBeGreaterThan(0);
      expect(valid.filter((v) => !accepts(v))).toEqual([]);
      expect(invalid.filter((v) => accepts(v))).toEqual([]);
    });
  }
});

/**
 * Formats checked in records. cid, datetime and language are left to
 * @atproto/lexicon (as in the reference PDS), which is looser or stricter
 * than these vectors in a few edge cases; at-uri gets Aurora's strict check.
 */
describe("syntax vectors: lexicon string formats of records", () => {
  const docs = readdirSync(resolve(INTEROP, "lexicon/catalog")).map((f) => interopJson<LexiconDoc>(`lexicon/catalog/${f}`));
  const validator = new RecordValidator(docs);
  const formats: [file: string, field: string][] = [
    ["handle", "handle"],
    ["did", "did"],
    ["atidentifier", "atidentifier"],
    ["nsid", "nsid"],
    ["aturi", "aturi"],
    ["tid", "tid"],
    ["recordkey", "recordkey"],
  ];
  const record = (field: string, value: string) => ({
    $type: "example.lexicon.record",
    integer: 1,
    formats: { $type: "example.lexicon.record#stringFormats", [field]: value },
  });
  const accepts = (field: string, value: string) =>
    passes(() => validator.validate("example.lexicon.record", "demo", record(field, value), true));

  for (const [file, field] of formats) {
    test(`format ${field}`, () => {
      const valid = interopLines(`syntax/${file}_syntax_valid.txt`);
      const invalid = interopLines(`syntax/${file}_syntax_invalid.txt`);
      expect(valid.filter((v) => !accepts(field, v))).toEqual([]);
      expect(invalid.filter((v) => accepts(field, v))).toEqual([]);
    });
  }
});
