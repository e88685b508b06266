import { describe, expect, test } from "bun:test";
import { parseBasicAuth, secretsEqual } from "./basic";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("HTTP Basic", () => {
  test.each([
    [`Basic ${b64("admin:secret")}`, { username: "admin", password: "secret" }],
    [`basic ${b64("admin:pass:with:colons")}`, { username: "admin", password: "pass:with:colons" }],
    [`Basic ${b64("admin:")}`, { username: "admin", password: "" }],
    [`Basic ${b64("no-colon")}`, null],
    [`Bearer ${b64("admin:secret")}`, null],
    ["Basic !!!", null],
    [null, null],
  ])("%p → %p", (header, parsed) => {
    expect(parseBasicAuth(header)).toEqual(parsed);
  });

  test("secretsEqual compares whole secrets of any length", () => {
    expect(secretsEqual("s3cret", "s3cret")).toBe(true);
    expect(secretsEqual("s3cret", "s3creT")).toBe(false);
    expect(secretsEqual("s3cre", "s3cret")).toBe(false);
    expect(secretsEqual("", "s3cret")).toBe(false);
  });
});
