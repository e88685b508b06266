const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const LENGTH = 24;

/**
 * A fresh account password for `account create` and `account reset-password`:
 * 24 characters from 57 letters and digits without look-alikes (about 140
 * bits), drawn without modulo bias so every character is equally likely.
 */
export function generatePassword(): string {
  const out: string[] = [];
  // The largest multiple of the alphabet size below 256: bytes above it are drawn again.
  const limit = 256 - (256 % ALPHABET.length);
  while (out.length < LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(LENGTH * 2))) {
      if (byte < limit && out.length < LENGTH) out.push(ALPHABET[byte % ALPHABET.length]!);
    }
  }
  return out.join("");
}
