import { describe, expect, test } from "bun:test";
import { createDpopNonces } from "./nonce";

const STEP = 60_000;

function clocked(start = 1_700_000_000_000) {
  const clock = { t: start };
  const nonces = createDpopNonces("test-secret", { stepMs: STEP, now: () => clock.t });
  return { clock, nonces };
}

describe("DPoP nonces", () => {
  test("a nonce is 43 base64url characters, the same within a step and on every node with the secret", () => {
    const { clock, nonces } = clocked();
    const first = nonces.current();
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    clock.t += STEP - 1 - (clock.t % STEP);
    expect(nonces.current()).toBe(first);
    const otherNode = createDpopNonces("test-secret", { stepMs: STEP, now: () => clock.t });
    expect(otherNode.current()).toBe(first);
    expect(otherNode.isValid(first)).toBe(true);
  });

  test("rotates at each step boundary", () => {
    const { clock, nonces } = clocked(1_700_000_040_000);
    const before = nonces.current();
    clock.t += STEP;
    const after = nonces.current();
    expect(after).not.toBe(before);
    clock.t += STEP;
    expect(nonces.current()).not.toBe(after);
  });

  test("accepts the previous, current and next step's nonce, nothing older or newer", () => {
    const { clock, nonces } = clocked();
    const at = (offsetSteps: number) => {
      const saved = clock.t;
      clock.t += offsetSteps * STEP;
      const nonce = nonces.current();
      clock.t = saved;
      return nonce;
    };
    const table: [number, boolean][] = [[-2, false], [-1, true], [0, true], [1, true], [2, false]];
    for (const [offset, expected] of table) expect([offset, nonces.isValid(at(offset))]).toEqual([offset, expected]);
  });

  test("another secret's nonce is refused", () => {
    const { clock, nonces } = clocked();
    const other = createDpopNonces("other-secret", { stepMs: STEP, now: () => clock.t });
    expect(nonces.isValid(other.current())).toBe(false);
  });

  test.each([
    ["empty", ""],
    ["garbage", "not a nonce"],
    ["too short", "A".repeat(42)],
    ["too long", "A".repeat(44)],
    ["very long", "A".repeat(100_000)],
    ["non-base64url characters", "+".repeat(43)],
  ])("refuses %s input", (_what, input) => {
    const { nonces } = clocked();
    expect(nonces.isValid(input)).toBe(false);
  });

  test("refuses a valid nonce with one character changed, and one with its last character's stray bits set", () => {
    const { nonces } = clocked();
    const good = nonces.current();
    const flipped = (good[0] === "A" ? "B" : "A") + good.slice(1);
    expect(nonces.isValid(flipped)).toBe(false);
    // The 43rd character holds 4 data bits and 2 padding bits: a different padding decodes to the same bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(good[42]!);
    const stray = good.slice(0, 42) + alphabet[last ^ 1];
    expect(Buffer.from(stray, "base64url").equals(Buffer.from(good, "base64url"))).toBe(true);
    expect(nonces.isValid(stray)).toBe(false);
  });

  test("refuses a bad step and an empty secret", () => {
    expect(() => createDpopNonces("", {})).toThrow("non-empty secret");
    expect(() => createDpopNonces("s", { stepMs: 0 })).toThrow("positive integer");
  });
});
