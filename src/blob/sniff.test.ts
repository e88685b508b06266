import { expect, test } from "bun:test";
import { fakePng } from "@test/support/blobs";
import { declaredMime, sniffMime } from "./sniff";

const bytes = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

test.each([
  ["jpeg", bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), "image/jpeg"],
  ["png", fakePng(16), "image/png"],
  // file-type checks the chunk structure: a PNG signature before garbage is not a PNG.
  ["png signature alone", bytes([0x89], "PNG", [0x0d, 0x0a, 0x1a, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]), null],
  ["png cut after IHDR (a long file's head)", fakePng(0).subarray(0, 33), "image/png"],
  ["gif", bytes("GIF89a", [1, 0]), "image/gif"],
  ["webp", bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "image/webp"],
  ["mp4", bytes([0, 0, 0, 0x20], "ftypisom", [0, 0, 2, 0]), "video/mp4"],
  ["quicktime", bytes([0, 0, 0, 0x14], "ftypqt  ", [0, 0, 0, 0]), "video/quicktime"],
  ["heic", bytes([0, 0, 0, 0x18], "ftypheic", [0, 0, 0, 0]), "image/heic"],
  ["avif", bytes([0, 0, 0, 0x1c], "ftypavif", [0, 0, 0, 0]), "image/avif"],
  ["webm", bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1, 0x42, 0x82, 0x84], "webm"), "video/webm"],
  ["pdf", bytes("%PDF-1.7"), "application/pdf"],
  ["wav", bytes("RIFF", [0, 0, 0, 0], "WAVEfmt "), "audio/wav"],
  ["text", bytes("hello world"), null],
  ["empty", new Uint8Array(0), null],
])("sniffs %s", async (_name, head, mime) => {
  expect(await sniffMime(head)).toBe(mime);
});

test.each([
  ["image/PNG; charset=binary", "image/png"],
  ["text/plain", "text/plain"],
  ["nonsense", null],
  [null, null],
  ["", null],
])("declared Content-Type %p is %p", (header, mime) => {
  expect(declaredMime(header)).toBe(mime);
});
