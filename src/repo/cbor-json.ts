import { base32 } from "multiformats/bases/base32";
import { CID } from "multiformats/cid";

/**
 * Stored record blocks (DAG-CBOR) straight to the text of their atproto JSON
 * form, for the record reads (getRecord, listRecords): CIDs become
 * `{"$link": "b…"}` and byte strings `{"$bytes": "<base64, no padding>"}`, as
 * `dataToJson` writes them. Going through @ipld/dag-cbor, `dataToJson` and
 * `JSON.stringify` builds a token list, a value tree and a second tree before
 * any text exists — the largest part of a listRecords page's CPU. Map keys keep
 * their stored order (DAG-CBOR's canonical order); the JSON means the same.
 *
 * The blocks come from our own store (written by the write path, or checked by
 * `importRepo`), but a malformed one still gets a clear error rather than
 * wrong output: `CborJsonError`.
 */

export class CborJsonError extends Error {
  constructor(message: string) {
    super(`record block: ${message}`);
    this.name = "CborJsonError";
  }
}

const MAX_DEPTH = 256;
const CID_TAG = 42;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function cborToJson(bytes: Uint8Array): string {
  const reader = new Reader(bytes);
  const out = reader.value(0);
  if (reader.pos !== bytes.length) throw new CborJsonError(`${bytes.length - reader.pos} bytes after the value`);
  return out;
}

/**
 * Decodes every byte to the code point of the same index (WHATWG's
 * windows-1252 maps all 256), so offsets into the block are offsets into the
 * text: an ASCII string is a slice of it.
 */
const singleByte = new TextDecoder("latin1");

class Reader {
  pos = 0;
  /** The whole block as single-byte text, made on the first ASCII string. */
  private text?: string;

  // No DataView or Buffer over `bytes`: a fresh Uint8Array from the database has no
  // ArrayBuffer yet, and asking for one (`.buffer`) cost more than the rest of the decode.
  constructor(private readonly bytes: Uint8Array) {}

  value(depth: number): string {
    if (depth > MAX_DEPTH) throw new CborJsonError("nested too deeply");
    const head = this.byte();
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        return String(this.argument(info));
      case 1:
        return String(-1 - this.argument(info));
      case 2:
        return `{"$bytes":"${base64(this.take(this.argument(info)))}"}`;
      case 3:
        return this.quoted(this.argument(info));
      case 4: {
        const n = this.argument(info);
        if (n === 0) return "[]";
        let out = "[";
        for (let i = 0; i < n; i++) out += (i === 0 ? "" : ",") + this.value(depth + 1);
        return `${out}]`;
      }
      case 5: {
        const n = this.argument(info);
        if (n === 0) return "{}";
        let out = "{";
        for (let i = 0; i < n; i++) {
          const keyHead = this.byte();
          if (keyHead >> 5 !== 3) throw new CborJsonError("a map key that is not a string");
          out += `${i === 0 ? "" : ","}${this.quoted(this.argument(keyHead & 0x1f))}:${this.value(depth + 1)}`;
        }
        return `${out}}`;
      }
      case 6: {
        const tag = this.argument(info);
        if (tag !== CID_TAG) throw new CborJsonError(`tag ${tag} (DAG-CBOR has only tag 42)`);
        const inner = this.byte();
        if (inner >> 5 !== 2) throw new CborJsonError("a CID that is not a byte string");
        const cid = this.take(this.argument(inner & 0x1f));
        if (cid.length < 2 || cid[0] !== 0) throw new CborJsonError("a CID without its 0x00 prefix");
        return `{"$link":"${cidText(cid.subarray(1))}"}`;
      }
      default:
        return this.simple(info);
    }
  }

  private simple(info: number): string {
    if (info === 20) return "false";
    if (info === 21) return "true";
    if (info === 22) return "null";
    if (info === 27) {
      // DAG-CBOR's only float; the atproto data model has none, but a stored one still reads as a number.
      const value = new DataView(this.bytes.buffer, this.bytes.byteOffset).getFloat64(this.advance(8));
      if (!Number.isFinite(value)) throw new CborJsonError("a float that is not finite");
      return String(value);
    }
    throw new CborJsonError(`simple value ${info}`);
  }

  /** The length or value that follows a head byte's additional information. */
  private argument(info: number): number {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    if (info === 25) {
      const at = this.advance(2);
      return (this.bytes[at]! << 8) | this.bytes[at + 1]!;
    }
    if (info === 26) return this.uint32(this.advance(4));
    if (info === 27) {
      const at = this.advance(8);
      const value = this.uint32(at) * 2 ** 32 + this.uint32(at + 4);
      if (!Number.isSafeInteger(value)) throw new CborJsonError("an integer beyond 2^53");
      return value;
    }
    throw new CborJsonError(`additional information ${info} (indefinite lengths are not DAG-CBOR)`);
  }

  /** A text string as JSON: quoted and escaped. */
  private quoted(length: number): string {
    const start = this.advance(length);
    const end = start + length;
    const bytes = this.bytes;
    // Most record text is ASCII needing no escapes: one native slice, no decoder, no JSON.stringify.
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b < 0x20 || b === 0x22 || b === 0x5c) return JSON.stringify(utf8Text(bytes.subarray(start, end)));
    }
    this.text ??= singleByte.decode(this.bytes);
    return `"${this.text.slice(start, end)}"`;
  }

  private uint32(at: number): number {
    const b = this.bytes;
    return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new CborJsonError("ends early");
    return this.bytes[this.pos++]!;
  }

  private take(length: number): Uint8Array {
    const start = this.advance(length);
    return this.bytes.subarray(start, start + length);
  }

  /** Claim `length` bytes and return where they start. */
  private advance(length: number): number {
    const start = this.pos;
    if (start + length > this.bytes.length) throw new CborJsonError("ends early");
    this.pos = start + length;
    return start;
  }
}

/** A CID's string form: base32 for CIDv1 (nearly all), base58btc without a prefix for a legacy CIDv0. */
function cidText(bytes: Uint8Array): string {
  if (bytes[0] === 0x12 && bytes[1] === 0x20) return CID.decode(bytes).toString();
  return base32.encode(bytes);
}

function utf8Text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new CborJsonError("a string that is not UTF-8");
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}
