import { InvalidRequestError } from "@/errors";
import type { BlobConstraint } from "./validator";

/** Whether `mimeType` matches one of a lexicon's `accept` patterns (`image/png`, `image/*`, `*\/*`). */
export function acceptsMime(accept: readonly string[], mimeType: string): boolean {
  const type = mimeType.toLowerCase();
  return accept.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === "*/*") return true;
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    return p === type;
  });
}

/** A blob of `mimeType` and `size` at `path` must satisfy the lexicon's accept/maxSize; 400 naming the field otherwise. */
export function assertBlobFits(path: string, mimeType: string, size: number, constraints: readonly BlobConstraint[]): void {
  for (const c of constraints) {
    if (c.accept && !acceptsMime(c.accept, mimeType)) {
      throw new InvalidRequestError(`${path}: a blob of type ${mimeType} is not accepted here (${c.accept.join(", ")})`);
    }
    if (c.maxSize !== undefined && size > c.maxSize) {
      throw new InvalidRequestError(`${path}: the blob is ${size} bytes, more than the maximum ${c.maxSize}`);
    }
  }
}
