import { Secp256k1Keypair } from "@atproto/crypto";
import { createSecretBox, SecretBoxError } from "@/crypto/secret-box";

/**
 * Account signing keys (secp256k1) sealed for the database. The sealing key
 * is derived from the server's PLC rotation key: that key already controls
 * every hosted DID document (it can replace the signing key listed there),
 * so a separate secret would protect nothing it does not, and would be one
 * more secret to lose. Every node derives the same key from the shared
 * secret, and the sealed bytes name the key they were sealed under.
 */
export interface SigningKeyVault {
  /** A fresh key (its did:key goes into the DID document before the DID is known). */
  generate(): Promise<Secp256k1Keypair>;
  /** The key sealed for the row of `did`. */
  seal(did: string, keypair: Secp256k1Keypair): Promise<Uint8Array>;
  /** Open a sealed key of `did`. */
  open(did: string, sealed: Uint8Array): Promise<Secp256k1Keypair>;
}

export function createSigningKeyVault(plcRotationKeyHex: string): SigningKeyVault {
  const box = createSecretBox(Buffer.from(plcRotationKeyHex, "hex"), "account signing keys");
  return {
    generate: () => Secp256k1Keypair.create({ exportable: true }),
    async seal(did, keypair) {
      return box.seal(await keypair.export(), did);
    },
    async open(did, sealed) {
      try {
        return await Secp256k1Keypair.import(box.open(sealed, did), { exportable: true });
      } catch (err) {
        // The key exists but cannot be used: an operator problem (changed secret, altered row), never the client's.
        if (err instanceof SecretBoxError) throw new Error(`signing key of ${did}: ${err.message}`, { cause: err });
        throw err;
      }
    },
  };
}
