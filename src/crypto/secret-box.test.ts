import { describe, expect, test } from "bun:test";
import { SecretBoxError, createSecretBox } from "./secret-box";

const secret = Buffer.from("a".repeat(64), "hex");
const plain = new Uint8Array(Array.from({ length: 32 }, (_, i) => i));

describe("secret box", () => {
  test("seals and opens; the sealed bytes do not contain the plaintext and differ every time", () => {
    const box = createSecretBox(secret, "test");
    const a = box.seal(plain, "did:plc:one");
    const b = box.seal(plain, "did:plc:one");
    expect(box.open(a, "did:plc:one")).toEqual(plain);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).includes(Buffer.from(plain))).toBe(false);
    expect(a.length).toBe(1 + 4 + 12 + plain.length + 16);
  });

  test.each([
    ["another context (a row copied to another account)", (s: Uint8Array) => [s, "did:plc:two", createSecretBox(secret, "test")] as const, "another owner"],
    ["another secret", (s: Uint8Array) => [s, "did:plc:one", createSecretBox(Buffer.from("b".repeat(64), "hex"), "test")] as const, "another key"],
    ["another purpose", (s: Uint8Array) => [s, "did:plc:one", createSecretBox(secret, "other")] as const, "another key"],
    ["a flipped bit", (s: Uint8Array) => [Uint8Array.from(s, (x, i) => (i === s.length - 20 ? x ^ 1 : x)), "did:plc:one", createSecretBox(secret, "test")] as const, "altered"],
    ["a truncated value", (s: Uint8Array) => [s.subarray(0, 20), "did:plc:one", createSecretBox(secret, "test")] as const, "not a sealed value"],
  ])("refuses %s", (_, change, message) => {
    const sealed = createSecretBox(secret, "test").seal(plain, "did:plc:one");
    const [value, context, box] = change(sealed);
    expect(() => box.open(value, context)).toThrow(SecretBoxError);
    expect(() => box.open(value, context)).toThrow(message);
  });
});
