import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import type { DbTransaction } from "@/contracts/db";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { createSessionStore } from "./sessions";
import { createTokenSigner } from "./tokens";

const DID = "did:plc:sessionrace0000000000000";

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`sessions on ${backend.name}`, () => {
    let ctx: TestContext;
    beforeAll(async () => {
      ctx = await backend.open();
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
    });

    test("revoking an app password also revokes the successor of a refresh that was committing meanwhile", async () => {
      // Rotations pause before their commit while `gate` is set: the revocation then runs into them.
      let gate: Promise<void> | null = null;
      let paused!: () => void;
      const rotationPaused = new Promise<void>((resolve) => (paused = resolve));
      const store = createSessionStore({
        db: () => ctx.db.db(),
        transaction: <T>(fn: (tx: DbTransaction) => Promise<T>) =>
          ctx.db.transaction(async (tx) => {
            const result = await fn(tx);
            if (gate) {
              paused();
              await gate;
            }
            return result;
          }),
        tokens: createTokenSigner("sessions-test-secret-0123456789", "did:web:localhost"),
        cached: ctx.cached,
        cacheLookups: false,
      });
      await ctx.db.db().insertInto("app_password").values({ did: DID, name: "phone", password_hash: "h", privileged: 0, created_at: new Date().toISOString() }).execute();
      await store.open(DID, { name: "phone", privileged: false });
      const sessions = () => ctx.db.db().selectFrom("refresh_token").select(["id", "next_id"]).where("did", "=", DID).execute();
      const [first] = await sessions();

      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      const rotation = store.rotate(first!.id);
      await rotationPaused;
      // The revocation as revokeAppPassword runs it: one transaction deleting the app password and its sessions.
      const revocation = ctx.db.transaction(async (tx) => {
        await tx.deleteFrom("app_password").where("did", "=", DID).where("name", "=", "phone").execute();
        return store.revokeAppPassword(tx, DID, "phone");
      });
      // Let the revocation reach the rotated row (PostgreSQL: it waits for the rotation's row lock).
      await Bun.sleep(300);
      release();
      const rotated = await rotation;
      const revoked = await revocation;

      expect(rotated).not.toBeNull();
      expect(revoked).toHaveLength(2);
      expect(await sessions()).toEqual([]);
      const successor = decodeJwt(rotated!.accessJwt).sid as string;
      expect(await store.lookup(successor)).toBeNull();
    });
  });
}
