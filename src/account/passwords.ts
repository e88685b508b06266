import { randomInt, scrypt } from "node:crypto";
import { InvalidRequestError } from "@/errors";

/** Longest account password accepted; longer input is refused before hashing. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane): each
 * concurrent log-in holds that much memory while it hashes, so Bun's default
 * of 64 MiB would let a burst of log-ins take gigabytes on a small node.
 */
const ARGON2 = { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 } as const;

export async function hashPassword(password: string): Promise<string> {
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw new InvalidRequestError(`Password too long. Maximum length is ${PASSWORD_MAX_LENGTH} characters.`, "InvalidPassword");
  }
  return Bun.password.hash(password, ARGON2);
}

let decoy: Promise<string> | undefined;

/**
 * Check a password against a stored hash. With no hash (unknown account, or
 * one without a password) a decoy hash is checked instead, so the answer
 * takes as long either way and timing does not reveal which accounts exist.
 */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (password.length > PASSWORD_MAX_LENGTH) return false;
  if (hash === null) {
    decoy ??= Bun.password.hash(crypto.randomUUID(), ARGON2);
    await Bun.password.verify(password, await decoy);
    return false;
  }
  return Bun.password.verify(password, hash);
}

const APP_PASSWORD_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const APP_PASSWORD_SHAPE = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/;

/**
 * Whether `password` could be an app password: every one is generated here
 * in this shape, so any other input needs no app-password hash at log-in.
 */
export function isAppPasswordShaped(password: string): boolean {
  return APP_PASSWORD_SHAPE.test(password);
}

/** A new app password, `xxxx-xxxx-xxxx-xxxx` in base32 (80 random bits). */
export function generateAppPassword(): string {
  const chars = Array.from({ length: 16 }, () => APP_PASSWORD_ALPHABET[randomInt(APP_PASSWORD_ALPHABET.length)]);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join("")).join("-");
}

/**
 * The stored form of an app password: scrypt salted with the DID, so it is
 * the same every time and login finds the app password with one indexed
 * lookup instead of trying each of the account's hashes. A per-hash random
 * salt adds nothing here: app passwords are 80 random bits, not user choices.
 */
export function hashAppPassword(did: string, password: string): Promise<string> {
  return new Promise((resolve, reject) =>
    scrypt(password, `aurora app password ${did}`, 32, { N: 16384, r: 8, p: 1 }, (err, key) =>
      err ? reject(err) : resolve(`scrypt$${key.toString("base64url")}`),
    ),
  );
}
