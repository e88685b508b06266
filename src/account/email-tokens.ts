import { createHash, randomInt, timingSafeEqual } from "node:crypto";
import type { Db, DbTransaction } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";

export const EMAIL_TOKEN_PURPOSES = ["confirm_email", "update_email", "reset_password", "delete_account", "plc_operation", "two_factor"] as const;
export type EmailTokenPurpose = (typeof EMAIL_TOKEN_PURPOSES)[number];

/** How long a mailed token works, as in the reference PDS. */
export const EMAIL_TOKEN_TTL_MS = 15 * 60 * 1000;

/**
 * The one email-token mechanism: a code mailed to the account's address,
 * one outstanding per account and purpose (a new one replaces the old),
 * short-lived and single use. Rows live in the database, so a token
 * requested through one node works on every other; only its SHA-256 is
 * stored. `tx`, when given, makes the consumption part of the caller's
 * transaction (the token is spent only if the change it authorises commits).
 */
export interface EmailTokens {
  /** A new token for `did` and `purpose`, replacing any outstanding one. */
  issue(did: string, purpose: EmailTokenPurpose): Promise<string>;
  /** Spend a token: 400 InvalidToken when it is not the account's current one (or already spent), 400 ExpiredToken when too old. */
  consume(did: string, purpose: EmailTokenPurpose, token: string, tx?: DbTransaction): Promise<void>;
  /** Spend a token found by its value alone (resetPassword takes no account); returns the account's DID. Same errors as `consume`. */
  consumeByToken(purpose: EmailTokenPurpose, token: string, tx?: DbTransaction): Promise<string>;
  /** Drop every outstanding token of an account (its email changed, or it is being deleted). */
  revokeAll(did: string, tx?: DbTransaction): Promise<void>;
}

/** Base32 as the reference's tokens use it (RFC 4648 letters and digits 2-7), upper case. */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** `XXXXX-XXXXX`: 50 random bits. */
export function generateEmailToken(): string {
  const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** Users paste tokens with stray spaces or in lower case; the reference also compares upper-cased. */
const hashToken = (token: string) => createHash("sha256").update(token.trim().toUpperCase()).digest("hex");

const invalid = () => new InvalidRequestError("Token is invalid", "InvalidToken");
const expired = () => new InvalidRequestError("Token is expired", "ExpiredToken");

export function createEmailTokens(deps: { db: () => Db; now?: () => number }): EmailTokens {
  const now = deps.now ?? Date.now;

  /**
   * Check and delete in one statement's worth of race: the DELETE names the
   * hash it checked, so of two nodes consuming the same token at once only
   * one deletes the row, and the other gets InvalidToken.
   */
  const spend = async (q: Db | DbTransaction, row: { did: string; purpose: string; token_hash: string; requested_at: string }) => {
    if (now() - Date.parse(row.requested_at) > EMAIL_TOKEN_TTL_MS) throw expired();
    const deleted = await q
      .deleteFrom("email_token")
      .where("did", "=", row.did)
      .where("purpose", "=", row.purpose)
      .where("token_hash", "=", row.token_hash)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) !== 1) throw invalid();
  };

  return {
    async issue(did, purpose) {
      const token = generateEmailToken();
      const row = { did, purpose, token_hash: hashToken(token), requested_at: new Date(now()).toISOString() };
      await deps
        .db()
        .insertInto("email_token")
        .values(row)
        .onConflict((oc) => oc.columns(["did", "purpose"]).doUpdateSet({ token_hash: row.token_hash, requested_at: row.requested_at }))
        .execute();
      return token;
    },

    async consume(did, purpose, token, tx) {
      const q = tx ?? deps.db();
      const row = await q.selectFrom("email_token").selectAll().where("did", "=", did).where("purpose", "=", purpose).executeTakeFirst();
      const given = Buffer.from(hashToken(token), "hex");
      if (!row || !timingSafeEqual(Buffer.from(row.token_hash, "hex"), given)) throw invalid();
      await spend(q, row);
    },

    async consumeByToken(purpose, token, tx) {
      const q = tx ?? deps.db();
      // Looked up by the hash itself: a timing difference there tells an attacker about hashes, not tokens.
      const row = await q.selectFrom("email_token").selectAll().where("purpose", "=", purpose).where("token_hash", "=", hashToken(token)).executeTakeFirst();
      if (!row) throw invalid();
      await spend(q, row);
      return row.did;
    },

    async revokeAll(did, tx) {
      await (tx ?? deps.db()).deleteFrom("email_token").where("did", "=", did).execute();
    },
  };
}
