import type { LexiconDoc } from "@atproto/lexicon";
import { RecordValidator } from "./validator";

export { RecordValidator, type BlobConstraint, type ValidateMode, type ValidationStatus } from "./validator";

let bundled: RecordValidator | undefined;

/**
 * The lexicon documents Aurora validates records against: those published
 * with @atproto/api (com.atproto.*, app.bsky.*, chat.bsky.*, tools.ozone.*).
 * Only the lexicon module is loaded, not the API client, and only when the
 * first record is validated (it is about a megabyte of JSON). Built once per
 * process and shared: the documents never change at run time.
 */
export function bundledRecordValidator(): RecordValidator {
  bundled ??= new RecordValidator(() => {
    const { schemas } = require("@atproto/api/dist/client/lexicons") as { schemas: unknown };
    return schemas as LexiconDoc[];
  });
  return bundled;
}
