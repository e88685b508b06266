/**
 * MIME type from a blob's first bytes, for the formats people upload to a
 * PDS (images, video, audio, a few documents). Null when unrecognised: the
 * uploader's Content-Type is used then. Needs at most the first 64 bytes.
 */
export const SNIFF_BYTES = 64;

const ascii = (bytes: Uint8Array, start: number, length: number) =>
  String.fromCharCode(...bytes.subarray(start, start + length));
const startsWith = (bytes: Uint8Array, prefix: readonly number[], offset = 0) =>
  prefix.every((b, i) => bytes[offset + i] === b);

const SIGNATURES: readonly [prefix: readonly number[], mime: string][] = [
  [[0xff, 0xd8, 0xff], "image/jpeg"],
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "image/png"],
  [[0x47, 0x49, 0x46, 0x38, 0x37, 0x61], "image/gif"],
  [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61], "image/gif"],
  [[0x49, 0x49, 0x2a, 0x00], "image/tiff"],
  [[0x4d, 0x4d, 0x00, 0x2a], "image/tiff"],
  [[0x42, 0x4d], "image/bmp"],
  [[0x00, 0x00, 0x01, 0x00], "image/x-icon"],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], "application/pdf"],
  [[0x49, 0x44, 0x33], "audio/mpeg"],
  [[0x4f, 0x67, 0x67, 0x53], "audio/ogg"],
  [[0x66, 0x4c, 0x61, 0x43], "audio/flac"],
  [[0x1f, 0x8b], "application/gzip"],
  [[0x50, 0x4b, 0x03, 0x04], "application/zip"],
];

// ISO base media file brands (the `ftyp` box at offset 4).
const BRANDS: Record<string, string> = {
  avif: "image/avif",
  avis: "image/avif",
  heic: "image/heic",
  heix: "image/heic",
  mif1: "image/heif",
  msf1: "image/heif",
  qt: "video/quicktime",
  "M4A": "audio/mp4",
  "M4V": "video/mp4",
};

export function sniffMime(head: Uint8Array): string | null {
  if (head.length >= 12 && ascii(head, 0, 4) === "RIFF") {
    const form = ascii(head, 8, 4);
    if (form === "WEBP") return "image/webp";
    if (form === "WAVE") return "audio/wav";
    if (form === "AVI ") return "video/x-msvideo";
  }
  if (head.length >= 12 && ascii(head, 4, 4) === "ftyp") {
    const brand = ascii(head, 8, 4).trim();
    return BRANDS[brand] ?? "video/mp4";
  }
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) {
    // Matroska and WebM share EBML; WebM names its doctype early in the header.
    return ascii(head, 0, Math.min(head.length, SNIFF_BYTES)).includes("webm") ? "video/webm" : "video/x-matroska";
  }
  for (const [prefix, mime] of SIGNATURES) if (startsWith(head, prefix)) return mime;
  return null;
}

/** The type part of a Content-Type header, lower-cased; null when absent or not `type/subtype`. */
export function declaredMime(contentType: string | null): string | null {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  return type && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : null;
}
