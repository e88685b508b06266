import { describe, expect, test } from "bun:test";
import { XrpcError } from "@/errors";
import { PASSWORD_MAX_LENGTH, generateAppPassword, hashAppPassword, hashPassword, verifyPassword } from "./passwords";

describe("passwords", () => {
  test("account passwords are argon2id hashes that verify", async () => {
    const hash = await hashPassword("hunter2 hunter2");
    expect(hash).toStartWith("$argon2id$");
    expect(await verifyPassword("hunter2 hunter2", hash)).toBe(true);
    expect(await verifyPassword("hunter2 hunter3", hash)).toBe(false);
    expect(await verifyPassword("anything", null)).toBe(false);
  });

  test("an over-long password is refused before hashing (400 InvalidPassword) and never verifies", async () => {
    const long = "x".repeat(PASSWORD_MAX_LENGTH + 1);
    const err = await hashPassword(long).catch((e) => e);
    expect(err).toBeInstanceOf(XrpcError);
    expect((err as XrpcError).error).toBe("InvalidPassword");
    expect(await verifyPassword(long, await hashPassword("x"))).toBe(false);
  });

  test("app passwords: xxxx-xxxx-xxxx-xxxx base32, stored as a hash bound to the account", async () => {
    const passwords = new Set(Array.from({ length: 50 }, generateAppPassword));
    expect(passwords.size).toBe(50);
    for (const p of passwords) expect(p).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    const [p] = passwords;
    const a = await hashAppPassword("did:plc:a", p!);
    expect(await hashAppPassword("did:plc:a", p!)).toBe(a);
    expect(await hashAppPassword("did:plc:b", p!)).not.toBe(a);
    expect(a).not.toContain(p!);
  });
});
