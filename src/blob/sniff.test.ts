import { expect, test } from "bun:test";
import { declaredMime, sniffMime } from "./sniff";

const bytes = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

test.each([
  ["jpeg", bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), "image/jpeg"],
  ["png", bytes([0x89], "PNG", [0x0d, 0x0a, 0x1a, 0x0a]), "image/png"],
  ["gif", bytes("GIF89a", [1, 0]), "image/gif"],
  ["webp", bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "image/webp"],
  ["mp4", bytes([0, 0, 0, 0x20], "ftypisom", [0, 0, 2, 0]), "video/mp4"],
  ["quicktime", bytes([0, 0, 0, 0x14], "ftypqt  ", [0, 0, 0, 0]), "video/quicktime"],
  ["heic", bytes([0, 0, 0, 0x18], "ftypheic", [0, 0, 0, 0]), "image/heic"],
  ["avif", bytes([0, 0, 0, 0x1c], "ftypavif", [0, 0, 0, 0]), "image/avif"],
  ["webm", bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1, 0x42, 0x82, 0x84], "webm"), "video/webm"],
  ["pdf", bytes("%PDF-1.7"), "application/pdf"],
  ["text", bytes("hello world"), null],
  ["empty", new Uint8Array(0), null],
])("sniffs %s", (_name, head, mime) => {
  expect(sniffMime(head)).toBe(mime);
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
