import type { Lexicons } from "@atproto/lexicon";
import type { DatabasePlugin } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import { MAX_DATA_DEPTH } from "@/lexicon/data-model";
import { inBatches } from "@/util/in-batches";
import { APP_BSKY, type Preference, type PreferenceAccess, allowed, declaredAge, inNamespace, readOnly } from "./rules";

export { type Preference, type PreferenceAccess, accessOf } from "./rules";

const PUT_NSID = "app.bsky.actor.putPreferences";

/**
 * Account preferences (app.bsky.actor.getPreferences / putPreferences),
 * stored in the shared database so every node serves the same ones. A put
 * replaces the caller's whole app.bsky set in one transaction; a read is one
 * query. Values come back exactly as they were put.
 */
export class PreferenceService {
  constructor(
    private readonly db: DatabasePlugin,
    /** Checks a putPreferences body against its lexicon (known preference types); throws on a bad one. */
    private readonly lexicons: () => Pick<Lexicons, "assertValidXrpcInput"> = bundledLexicons,
  ) {}

  /** The account's app.bsky preferences in the order they were put, with the derived age brackets. */
  async get(did: string, access: PreferenceAccess): Promise<Preference[]> {
    const rows = await this.db
      .db()
      .selectFrom("account_pref")
      .select(["name", "value_json"])
      .where("did", "=", did)
      .orderBy("position")
      .execute();
    const prefs = rows.filter((r) => inNamespace(APP_BSKY, r.name)).map((r) => JSON.parse(r.value_json) as Preference);
    const age = declaredAge(prefs);
    if (age) prefs.push(age);
    return prefs.filter((p) => allowed(p.$type, access));
  }

  /**
   * Replace the account's app.bsky preferences with `preferences`. What the
   * caller may not see (personal details, for an app password) is kept as it
   * was; derived preferences sent back are dropped. Throws 400 InvalidRequest
   * before touching anything when one item is refused.
   */
  async put(did: string, preferences: readonly unknown[], access: PreferenceAccess): Promise<void> {
    const incoming = this.check(preferences, access).filter((p) => !readOnly(p.$type));
    await this.db.transaction(async (tx) => {
      // Two puts at once must not interleave their delete and insert (the result would be both sets).
      await this.db.lock(tx, `pref:${did}`);
      const rows = await tx
        .selectFrom("account_pref")
        .select(["name", "value_json"])
        .where("did", "=", did)
        .orderBy("position")
        .execute();
      const kept = rows.filter((r) => !inNamespace(APP_BSKY, r.name) || !allowed(r.name, access));
      const next = [...kept, ...incoming.map((p) => ({ name: p.$type, value_json: JSON.stringify(p) }))];
      await tx.deleteFrom("account_pref").where("did", "=", did).execute();
      const values = next.map((row, position) => ({ did, position, ...row }));
      await inBatches(values, (chunk) => tx.insertInto("account_pref").values(chunk).execute());
    });
  }

  /** The reference's checks, in its order and with its messages, then the lexicon's. */
  private check(preferences: readonly unknown[], access: PreferenceAccess): Preference[] {
    const checked = preferences.map((pref) => {
      if (!isObject(pref) || typeof pref.$type !== "string") throw new InvalidRequestError("Preference is missing a $type");
      return pref as Preference;
    });
    if (!checked.every((p) => inNamespace(APP_BSKY, p.$type))) {
      throw new InvalidRequestError(`Some preferences are not in the ${APP_BSKY} namespace`);
    }
    const forbidden = checked.filter((p) => !allowed(p.$type, access));
    if (forbidden.length > 0) {
      throw new InvalidRequestError(`Do not have authorization to set preferences: ${forbidden.map((p) => p.$type).join(", ")}`);
    }
    checked.forEach((p, i) => assertShallow(p, `Input/preferences/${i}`, 0));
    try {
      this.lexicons().assertValidXrpcInput(PUT_NSID, { preferences: checked });
    } catch (err) {
      throw new InvalidRequestError(err instanceof Error ? err.message : String(err));
    }
    return checked;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Unknown preference types are stored as sent; bound their nesting so no walk over them (JSON, lexicon) nears the stack's end. */
function assertShallow(value: unknown, path: string, depth: number): void {
  if (typeof value !== "object" || value === null) return;
  if (depth >= MAX_DATA_DEPTH) throw new InvalidRequestError(`${path} is nested too deeply: at most ${MAX_DATA_DEPTH} levels of arrays and objects`);
  for (const [key, item] of Object.entries(value)) assertShallow(item, `${path}/${key}`, depth + 1);
}

/**
 * The lexicons published with @atproto/api, the module src/lexicon also
 * reads (which builds this instance as it loads); required on first use, as
 * it is about a megabyte of JSON.
 */
function bundledLexicons(): Lexicons {
  return (require("@atproto/api/dist/client/lexicons") as { lexicons: Lexicons }).lexicons;
}
