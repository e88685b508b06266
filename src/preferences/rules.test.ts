import { describe, expect, test } from "bun:test";
import { DECLARED_AGE, PERSONAL_DETAILS, accessOf, ageOn, allowed, declaredAge, inNamespace, readOnly } from "./rules";

describe("preference rules", () => {
  test.each([
    ["app.bsky", true],
    ["app.bsky.actor.defs#adultContentPref", true],
    ["app.bskyx.pref", false],
    ["App.bsky.actor.defs#adultContentPref", false],
    ["com.example.pref", false],
    ["", false],
  ])("inNamespace(app.bsky, %p) is %p", (type, expected) => {
    expect(inNamespace("app.bsky", type)).toBe(expected);
  });

  test.each([
    ["access", true],
    ["appPassPrivileged", false],
    ["appPass", false],
  ] as const)("a %s caller: full access %p; personal details only with it", (kind, full) => {
    const access = accessOf({ kind, did: "did:plc:abc" });
    expect(access.fullAccess).toBe(full);
    expect(allowed(PERSONAL_DETAILS, access)).toBe(full);
    expect(allowed("app.bsky.actor.defs#adultContentPref", access)).toBe(true);
  });

  test("only the declared age is read-only", () => {
    expect(readOnly(DECLARED_AGE)).toBe(true);
    expect(readOnly(PERSONAL_DETAILS)).toBe(false);
  });

  test.each([
    ["2000-03-15T00:00:00.000Z", "2018-03-14T23:59:59.000Z", 17],
    ["2000-03-15T00:00:00.000Z", "2018-03-15T00:00:00.000Z", 18],
    ["2000-02-29T00:00:00.000Z", "2018-02-28T12:00:00.000Z", 17],
    ["2000-02-29T00:00:00.000Z", "2018-03-01T00:00:00.000Z", 18],
    ["2010-12-31T00:00:00.000Z", "2011-01-01T00:00:00.000Z", 0],
  ])("born %s, on %s: %d", (born, now, age) => {
    expect(ageOn(new Date(born), new Date(now))).toBe(age);
  });

  test("the declared age follows the birth date; none without a usable one", () => {
    const now = new Date("2026-06-01T00:00:00.000Z");
    const withBirth = (birthDate: unknown) => [{ $type: PERSONAL_DETAILS, birthDate }];
    expect(declaredAge(withBirth("2011-05-31T00:00:00.000Z"), now)).toEqual({
      $type: DECLARED_AGE,
      isOverAge13: true,
      isOverAge16: false,
      isOverAge18: false,
    });
    expect(declaredAge(withBirth("not a date"), now)).toBeUndefined();
    expect(declaredAge(withBirth(19900101), now)).toBeUndefined();
    expect(declaredAge([{ $type: "app.bsky.actor.defs#adultContentPref", enabled: true }], now)).toBeUndefined();
  });
});
