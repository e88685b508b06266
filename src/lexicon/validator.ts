import { isValidNsid, isValidTid } from "@atproto/syntax";
import { type LexiconDoc, type LexUserType, Lexicons, ipldToLex } from "@atproto/lexicon";
import { InvalidRequestError } from "@/errors";
import { isValidAtUri } from "./syntax";
import type { DataMap } from "./data-model";

/** What a lexicon says about one blob field. */
export interface BlobConstraint {
  accept?: string[];
  maxSize?: number;
}

/** `validate` of the repo write methods: true forces, false skips, undefined validates when the lexicon is known. */
export type ValidateMode = boolean | undefined;

/** `validationStatus` of the write results. */
export type ValidationStatus = "valid" | "unknown";

/**
 * Record validation against lexicon documents (@atproto/lexicon does the
 * schema checks). Besides the schema, it knows each record type's key type
 * and where its blobs go, with their `accept` and `maxSize`.
 */
export class RecordValidator {
  private loaded: Lexicons | undefined;

  /** `docs` may be a function: the documents are then read on first use. */
  constructor(private readonly docs: Iterable<LexiconDoc> | (() => Iterable<LexiconDoc>)) {}

  private get lexicons(): Lexicons {
    this.loaded ??= new Lexicons(typeof this.docs === "function" ? this.docs() : this.docs);
    return this.loaded;
  }

  /** Whether `value` is a valid output of the XRPC method `nsid`; false for a method with no loaded lexicon. */
  validXrpcOutput(nsid: string, value: unknown): boolean {
    try {
      this.lexicons.assertValidXrpcOutput(nsid, value);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether a record lexicon for `collection` is loaded. */
  knows(collection: string): boolean {
    return this.recordDef(collection) !== undefined;
  }

  /**
   * Check `record` of `collection` and its record key. Returns the status to
   * report. Throws 400 InvalidRequest naming the field that failed.
   */
  validate(collection: string, rkey: string, record: DataMap, mode: ValidateMode): ValidationStatus {
    if (mode === false) return "unknown";
    const def = this.recordDef(collection);
    if (!def) {
      if (mode === true) throw new InvalidRequestError(`Lexicon not found: ${collection}`);
      return "unknown";
    }
    assertKeyType(def.key, rkey);
    try {
      this.lexicons.assertValidRecord(collection, ipldToLex(record));
    } catch (err) {
      throw new InvalidRequestError(`Invalid ${collection} record: ${err instanceof Error ? err.message : String(err)}`);
    }
    // @atproto/lexicon's at-uri check is looser than the spec's grammar (the interop vectors): apply the strict one.
    this.walk(def.record, record, "Record", 0, (leaf, value, path) => {
      if (leaf.type === "string" && leaf.format === "at-uri" && typeof value === "string" && !isValidAtUri(value)) {
        throw new InvalidRequestError(`Invalid ${collection} record: ${path} must be a valid at-uri`);
      }
    });
    return "valid";
  }

  /** The rkey a new record of `collection` gets when the caller names none: the literal of `literal:` keys, else undefined (a TID). */
  literalKey(collection: string): string | undefined {
    const key = this.recordDef(collection)?.key;
    return key?.startsWith("literal:") ? key.slice("literal:".length) : undefined;
  }

  /**
   * Blob fields of `record` by path (`Record/embed/images/0/image`) with the
   * lexicon's constraints, following refs and unions the way the record's
   * `$type`s select them. Unknown collections have none.
   */
  blobConstraints(collection: string, record: DataMap): Map<string, BlobConstraint> {
    const found = new Map<string, BlobConstraint>();
    const def = this.recordDef(collection);
    if (!def) return found;
    this.walk(def.record, record, "Record", 0, (leaf, _value, path) => {
      if (leaf.type === "blob") found.set(path, { accept: leaf.accept, maxSize: leaf.maxSize });
    });
    return found;
  }

  private recordDef(collection: string): Extract<LexUserType, { type: "record" }> | undefined {
    if (!isValidNsid(collection)) return undefined;
    const def = this.lexicons.getDef(collection);
    return def?.type === "record" ? def : undefined;
  }

  /** Follow `value` through its schema (objects, arrays, refs, unions by `$type`) and call `visit` on every other def. */
  private walk(def: unknown, value: unknown, path: string, depth: number, visit: Visitor): void {
    // Lexicons may be recursive (threads of refs); records are bounded in size, but stay safe.
    if (depth > 32 || value === null || value === undefined || typeof def !== "object" || def === null) return;
    const d = def as { type: string; [key: string]: any };
    switch (d.type) {
      case "object":
        if (typeof value !== "object") return;
        for (const [key, prop] of Object.entries(d.properties ?? {})) {
          const item = (value as Record<string, unknown>)[key];
          if (item !== undefined) this.walk(prop, item, `${path}/${key}`, depth + 1, visit);
        }
        return;
      case "array":
        if (Array.isArray(value)) value.forEach((item, i) => this.walk(d.items, item, `${path}/${i}`, depth + 1, visit));
        return;
      case "ref":
        this.walk(this.lexicons.getDef(d.ref), value, path, depth + 1, visit);
        return;
      case "union": {
        const type = (value as Record<string, unknown>).$type;
        if (typeof type !== "string") return;
        const target = (d.refs as string[]).find((ref) => sameDef(ref, type));
        if (target) this.walk(this.lexicons.getDef(target), value, path, depth + 1, visit);
        return;
      }
      default:
        visit(d, value, path);
        return;
    }
  }
}

type Visitor = (def: { type: string; [key: string]: any }, value: unknown, path: string) => void;

/** `lex:app.bsky.embed.images#main` and `app.bsky.embed.images` name the same def. */
function sameDef(ref: string, type: string): boolean {
  const norm = (s: string) => {
    const bare = s.startsWith("lex:") ? s.slice(4) : s;
    return bare.endsWith("#main") ? bare.slice(0, -5) : bare;
  };
  return norm(ref) === norm(type);
}

function assertKeyType(key: string | undefined, rkey: string): void {
  if (!key || key === "any") return;
  if (key === "tid" && !isValidTid(rkey)) throw new InvalidRequestError(`Invalid rkey: the collection's record keys are TIDs: ${rkey}`);
  if (key === "nsid" && !isValidNsid(rkey)) throw new InvalidRequestError(`Invalid rkey: the collection's record keys are NSIDs: ${rkey}`);
  if (key.startsWith("literal:") && rkey !== key.slice("literal:".length)) {
    throw new InvalidRequestError(`Invalid rkey: the collection's record key must be ${key.slice("literal:".length)}`);
  }
}
