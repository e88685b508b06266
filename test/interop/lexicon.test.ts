/**
 * Lexicon record-data vectors through the whole preparation of a write
 * (data model, lexicon schema, key type, blob accept/maxSize), with the
 * interop catalog's lexicons loaded.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import type { LexiconDoc } from "@atproto/lexicon";
import { RecordValidator } from "@/lexicon/validator";
import { prepareCreate } from "@/repo/prepare";
import { INTEROP, interopJson } from "./vectors";

interface Case {
  name: string;
  rkey: string;
  data: { $type: string };
}

const docs = readdirSync(resolve(INTEROP, "lexicon/catalog")).map((f) => interopJson<LexiconDoc>(`lexicon/catalog/${f}`));
const validator = new RecordValidator(docs);
const prepare = (c: Case) =>
  prepareCreate(validator, "did:plc:interop00000000000000000", { collection: c.data.$type, rkey: c.rkey, record: c.data, validate: true });

describe("lexicon record-data vectors", () => {
  const valid = interopJson<Case[]>("lexicon/record-data-valid.json");
  const invalid = interopJson<Case[]>("lexicon/record-data-invalid.json");

  test.each(valid.map((c) => [c.name, c]))("valid: %s", async (_name, c) => {
    expect((await prepare(c)).validationStatus).toBe("valid");
  });

  test.each(invalid.map((c) => [c.name, c]))("invalid: %s", async (_name, c) => {
    await expect(prepare(c)).rejects.toMatchObject({ status: 400, error: "InvalidRequest" });
  });
});
