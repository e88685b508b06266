import type { Secp256k1Keypair } from "@atproto/crypto";
import type { DatabasePlugin, Db, DbTransaction } from "@/contracts/db";
import { isUniqueViolation } from "@/db/errors";
import type { SigningKeyVault } from "./signing-keys";

/**
 * Signing keys handed out before their account exists
 * (com.atproto.server.reserveSigningKey), so someone moving a DID here can
 * put the key in the DID document first. Kept in the database, sealed under
 * the key's own did:key, so every node finds it; createAccount takes it.
 */
export interface ReservedKeys {
  /** The did:key of a key reserved for `did` (the same one each time), or of a fresh key when no DID is given. */
  reserve(did?: string): Promise<string>;
  /** The key reserved for `did`, else the one whose did:key is `keyDid`, if any. */
  find(db: Db | DbTransaction, did: string, keyDid?: string): Promise<Secp256k1Keypair | null>;
  /** Forget the reservations `find` could return (inside the account's creation). */
  release(tx: DbTransaction, did: string, keyDid: string): Promise<void>;
}

const sealedFor = (keyDid: string) => `reserved:${keyDid}`;

export function createReservedKeys(db: DatabasePlugin, vault: SigningKeyVault): ReservedKeys {
  const byDid = (conn: Db | DbTransaction, did: string) =>
    conn.selectFrom("reserved_signing_key").select(["key_did", "signing_key"]).where("for_did", "=", did).executeTakeFirst();
  return {
    async reserve(did) {
      if (did) {
        const existing = await byDid(db.db(), did);
        if (existing) return existing.key_did;
      }
      const keypair = await vault.generate();
      const keyDid = keypair.did();
      const row = { key_did: keyDid, for_did: did ?? null, signing_key: await vault.seal(sealedFor(keyDid), keypair), created_at: new Date().toISOString() };
      try {
        await db.db().insertInto("reserved_signing_key").values(row).execute();
      } catch (err) {
        // Two reservations for one DID at once: both answer with the one that was stored.
        const winner = did && isUniqueViolation(err) ? await byDid(db.db(), did) : undefined;
        if (winner) return winner.key_did;
        throw err;
      }
      return keyDid;
    },
    async find(conn, did, keyDid) {
      const row =
        (await byDid(conn, did)) ??
        (keyDid
          ? await conn.selectFrom("reserved_signing_key").select(["key_did", "signing_key"]).where("key_did", "=", keyDid).executeTakeFirst()
          : undefined);
      return row ? vault.open(sealedFor(row.key_did), row.signing_key) : null;
    },
    async release(tx, did, keyDid) {
      await tx.deleteFrom("reserved_signing_key").where((eb) => eb.or([eb("for_did", "=", did), eb("key_did", "=", keyDid)])).execute();
    },
  };
}
