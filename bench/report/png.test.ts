import { expect, test } from "bun:test";
import { crc32, inflateSync } from "node:zlib";
import { Canvas } from "./png";

test("toPng writes a valid 8-bit RGB PNG with the drawn pixels", () => {
  const canvas = new Canvas(7, 3, [255, 255, 255]);
  canvas.rect(1, 1, 2, 1, [10, 20, 30]);
  const png = canvas.toPng();
  const view = new DataView(png.buffer, png.byteOffset);
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const typeAndData = png.subarray(at + 4, at + 8 + length);
    expect(view.getUint32(at + 8 + length)).toBe(crc32(typeAndData));
    chunks.push({ type: new TextDecoder().decode(typeAndData.subarray(0, 4)), data: typeAndData.subarray(4) });
    at += 12 + length;
  }
  expect(chunks.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
  expect([...chunks[0]!.data]).toEqual([0, 0, 0, 7, 0, 0, 0, 3, 8, 2, 0, 0, 0]);
  const raw = inflateSync(chunks[1]!.data);
  expect(raw.length).toBe(3 * (1 + 7 * 3));
  const pixel = (x: number, y: number) => [...raw.subarray(y * 22 + 1 + x * 3, y * 22 + 4 + x * 3)];
  expect(pixel(0, 1)).toEqual([255, 255, 255]);
  expect(pixel(1, 1)).toEqual([10, 20, 30]);
  expect(pixel(2, 1)).toEqual([10, 20, 30]);
  expect(pixel(3, 1)).toEqual([255, 255, 255]);
});
