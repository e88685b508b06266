import { type DidDocument, getVerificationMaterial } from "@atproto/common-web";
import { P256_JWT_ALG, SECP256K1_JWT_ALG, formatDidKey, multibaseToBytes, parseMultikey } from "@atproto/crypto";

/**
 * The #atproto signing key of a DID document as a did:key, from the current
 * `Multikey` form and from the older 2019 verification-method types (raw
 * uncompressed keys), which some did:web documents and older PLC mirrors
 * still serve. Undefined when absent or unreadable. `keyId` names another
 * verification method (a labeler's `atproto_label`).
 */
export function signingDidKey(doc: DidDocument, keyId = "atproto"): string | undefined {
  const key = getVerificationMaterial(doc, keyId);
  if (!key) return undefined;
  try {
    switch (key.type) {
      case "Multikey":
        parseMultikey(key.publicKeyMultibase);
        return `did:key:${key.publicKeyMultibase}`;
      case "EcdsaSecp256k1VerificationKey2019":
        return formatDidKey(SECP256K1_JWT_ALG, multibaseToBytes(key.publicKeyMultibase));
      case "EcdsaSecp256r1VerificationKey2019":
        return formatDidKey(P256_JWT_ALG, multibaseToBytes(key.publicKeyMultibase));
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
