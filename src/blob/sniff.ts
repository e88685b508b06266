import { fileTypeFromBuffer } from "file-type/core";

/**
 * How much of a blob's head is kept for sniffing: file-type's own
 * "reasonable detection size", enough for every format it knows by its
 * header (the upload keeps at most this much in memory).
 */
export const SNIFF_BYTES = 4100;

/**
 * MIME type from a blob's first bytes (file-type's signature tables: images,
 * video, audio, documents, archives). Null when unrecognised: the uploader's
 * Content-Type is used then.
 */
export async function sniffMime(head: Uint8Array): Promise<string | null> {
  if (head.length === 0) return null;
  return (await fileTypeFromBuffer(head))?.mime ?? null;
}

/** The type part of a Content-Type header, lower-cased; null when absent or not `type/subtype`. */
export function declaredMime(contentType: string | null): string | null {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  return type && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : null;
}
