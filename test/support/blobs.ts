import { randomBytes } from "node:crypto";

/**
 * Bytes a sniffer takes for a PNG: the signature, a 13-byte IHDR chunk and
 * an IDAT chunk header, then `size` random bytes (file-type checks the chunk
 * structure, not only the signature). Random, so each call is a new blob.
 */
export function fakePng(size: number): Uint8Array<ArrayBuffer> {
  const ihdr = [0, 0, 0, 13, ...Buffer.from("IHDR"), 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde];
  const idat = [0, 0, 0, 0, ...Buffer.from("IDAT")];
  return Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...ihdr, ...idat, ...randomBytes(size)]);
}
