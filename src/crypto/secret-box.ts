import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

const VERSION = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES;

/**
 * Authenticated encryption of small secrets at rest (AES-256-GCM). Each
 * sealed value is bound to a `context` (e.g. the owning DID), so a sealed
 * value copied to another row does not open there. Layout:
 * version (1) · key id (4) · IV (12) · ciphertext · tag (16). The key id
 * tells a value sealed under another server key apart from a corrupt one.
 */
export interface SecretBox {
  /** First bytes of the key's hash, hex: which server key sealed a value. */
  readonly keyId: string;
  seal(plaintext: Uint8Array, context: string): Uint8Array;
  /** Throws `SecretBoxError` when the value was sealed under another key, for another context, or altered. */
  open(sealed: Uint8Array, context: string): Uint8Array;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

/** A box keyed by HKDF-SHA256 of `secret`, separated by `purpose` so one secret can key several boxes. */
export function createSecretBox(secret: Uint8Array, purpose: string): SecretBox {
  const key = Buffer.from(hkdfSync("sha256", secret, "aurora secret-box", purpose, 32));
  const keyIdBytes = createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES);
  return {
    keyId: keyIdBytes.toString("hex"),
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return new Uint8Array(Buffer.concat([Buffer.from([VERSION]), keyIdBytes, iv, body, cipher.getAuthTag()]));
    },
    open(sealed, context) {
      const bytes = Buffer.from(sealed);
      if (bytes.length < HEADER_BYTES + TAG_BYTES || bytes[0] !== VERSION) throw new SecretBoxError("not a sealed value");
      if (!bytes.subarray(1, 1 + KEY_ID_BYTES).equals(keyIdBytes)) {
        throw new SecretBoxError(`sealed under another key (${bytes.subarray(1, 1 + KEY_ID_BYTES).toString("hex")}, this server has ${this.keyId})`);
      }
      const iv = bytes.subarray(1 + KEY_ID_BYTES, HEADER_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      try {
        return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES, bytes.length - TAG_BYTES)), decipher.final()]));
      } catch {
        throw new SecretBoxError("sealed value does not open: altered, or sealed for another owner");
      }
    },
  };
}
