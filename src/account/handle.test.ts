import { describe, expect, test } from "bun:test";
import { XrpcError } from "@/errors";
import { validateRequestedHandle } from "./handle";

const domains = [".test", ".pds.example.com"];
const errorOf = (handle: string, external = false): string => {
  try {
    validateRequestedHandle(handle, domains, { external });
    return "ok";
  } catch (err) {
    return err instanceof XrpcError ? err.error : String(err);
  }
};

describe("validateRequestedHandle", () => {
  test.each([
    ["alice.test", "ok"],
    ["ALICE.Test", "ok"],
    ["abc.test", "ok"],
    ["eighteen-chars-abc.test", "ok"],
    ["alice.pds.example.com", "ok"],
    ["ab.test", "InvalidHandle"],
    ["nineteen-chars-abcd.test", "InvalidHandle"],
    ["alice.smith.test", "InvalidHandle"],
    ["-alice.test", "InvalidHandle"],
    ["alice-.test", "InvalidHandle"],
    ["al_ice.test", "InvalidHandle"],
    ["alice", "InvalidHandle"],
    ["alice.local", "InvalidHandle"],
    ["admin.test", "HandleNotAvailable"],
    ["Support.test", "HandleNotAvailable"],
    ["alice.example.org", "UnsupportedDomain"],
  ])("sign-up %s → %s", (handle, expected) => {
    expect(errorOf(handle)).toBe(expected);
  });

  test("other domains are allowed for an existing account (its handle must then resolve to it)", () => {
    expect(validateRequestedHandle("Alice.Example.org", domains, { external: true })).toBe("alice.example.org");
    expect(errorOf("alice.example", true)).toBe("InvalidHandle");
  });
});
