import type { Secp256k1Keypair } from "@atproto/crypto";
import { createSecretBox, SecretBoxError } from "@/crypto/secret-box";
import { Secp256k1Signer } from "@/crypto/secp256k1";
import { LruCache } from "@/util/lru-cache";

/**
 * Account signing keys (secp256k1) sealed for the database. The sealing key
 * is derived from the server's PLC rotation key: that key already controls
 * every hosted DID document (it can replace the signing key listed there),
 * so a separate secret would protect nothing it does not, and would be one
 * more secret to lose. Every node derives the same key from the shared
 * secret, and the sealed bytes name the key they were sealed under.
 * The sealed plaintext is the 32 raw secret bytes; keys come back as
 * `Secp256k1Signer` (libsecp256k1 signing), typed as the keypair they extend.
 */
export interface SigningKeyVault {
  /** A fresh key (its did:key goes into the DID document before the DID is known). */
  generate(): Promise<Secp256k1Keypair>;
  /** The key sealed for the row of `did`. */
  seal(did: string, keypair: Secp256k1Keypair): Promise<Uint8Array>;
  /** Open a sealed key of `did`. */
  open(did: string, sealed: Uint8Array): Promise<Secp256k1Keypair>;
}

/** Opened keys kept in memory: opening one costs a decryption and a public-key derivation (~0.25 ms). */
const OPENED_KEYS_KEPT = 10_000;

export function createSigningKeyVault(plcRotationKeyHex: string): SigningKeyVault {
  const box = createSecretBox(Buffer.from(plcRotationKeyHex, "hex"), "account signing keys");
  // Keyed by DID, checked against the sealed bytes: a rotated key (new bytes) is opened afresh on every node.
  const opened = new LruCache<{ sealed: Uint8Array; keypair: Secp256k1Signer }>(OPENED_KEYS_KEPT, Number.POSITIVE_INFINITY, () => 0);
  return {
    generate: async () => Secp256k1Signer.generate({ exportable: true }),
    async seal(did, keypair) {
      return box.seal(await keypair.export(), did);
    },
    async open(did, sealed) {
      const hit = opened.get(did);
      if (hit && Buffer.compare(hit.sealed, sealed) === 0) return hit.keypair;
      try {
        const keypair = Secp256k1Signer.fromSecret(box.open(sealed, did), { exportable: true });
        opened.set(did, { sealed: Uint8Array.from(sealed), keypair });
        return keypair;
      } catch (err) {
        // The key exists but cannot be used: an operator problem (changed secret, altered row), never the client's.
        if (err instanceof SecretBoxError) throw new Error(`signing key of ${did}: ${err.message}`, { cause: err });
        throw err;
      }
    },
  };
}
