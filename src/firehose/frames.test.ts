import { describe, expect, test } from "bun:test";
import { decode, encode } from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { accountBody, encodeBody, identityBody } from "@/sequencer/encode";
import { bodyWithSeq, rowToEvent } from "./frames";

const SEQS = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
const cid = CID.parse("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");

/** What building the frame body by decoding and re-encoding gives. */
const reference = (body: Uint8Array, seq: number) => encode({ ...(decode(body) as object), seq });

function randomKey(rand: () => number): string {
  const pool = ["seq", "sep", "ser", "seqq", "se", "s", "rev", "ops", "repo", "time", "a", "zzz", "did", "blocks", "prevData", "é", "\u0000", "sf", "sepp"];
  if (rand() < 0.6) return pool[Math.floor(rand() * pool.length)]!;
  return Array.from({ length: Math.floor(rand() * 6) }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join("");
}

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.2) return Math.floor(rand() * 2 ** 40) - 2 ** 20;
  if (r < 0.35) return "x".repeat(Math.floor(rand() * 300));
  // Lengths across the one-, two- and four-byte heads.
  if (r < 0.45) return new Uint8Array([0, 23, 24, 255, 256, 70_000][Math.floor(rand() * 6)]!);
  if (r < 0.55) return [true, false, null][Math.floor(rand() * 3)];
  if (r < 0.6) return cid;
  if (r < 0.8) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1));
  return randomMap(rand, depth + 1);
}

function randomMap(rand: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * (depth === 0 ? 30 : 6)); i > 0; i--) out[randomKey(rand)] = randomValue(rand, depth);
  return out;
}

describe("bodyWithSeq", () => {
  test("the sequencer's bodies get seq exactly as decoding and re-encoding them does, for every head size of seq", () => {
    const bodies = [
      identityBody("did:plc:abc", "alice.test"),
      identityBody("did:plc:abc", undefined),
      accountBody("did:plc:abc", false, "takendown"),
      { did: "did:plc:abc", blocks: new Uint8Array(300), rev: "3k2aabbccdd22" },
      { repo: "did:plc:abc", commit: cid, rev: "3k2aabbccdd22", since: null, blocks: new Uint8Array(5000), ops: [{ action: "create", path: "a/b", cid }], rebase: false, tooBig: false, blobs: [], prevData: cid, time: "2026-12-02T00:00:00.000Z" },
    ];
    for (const body of bodies) {
      const bytes = encodeBody(body);
      for (const seq of SEQS) expect(Buffer.from(bodyWithSeq(bytes, seq)).equals(Buffer.from(reference(bytes, seq)))).toBe(true);
    }
  });

  test("3,000 seeded random maps with keys around seq in length and order", () => {
    let state = 20261202;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const map = randomMap(rand, 0);
      delete map.seq;
      const bytes = encode(map);
      const seq = SEQS[i % SEQS.length]!;
      expect(Buffer.from(bodyWithSeq(bytes, seq)).equals(Buffer.from(reference(bytes, seq)))).toBe(true);
    }
  });

  test("a body that is not a map, one that already has seq, or one cut short is refused", () => {
    expect(() => bodyWithSeq(encode([1, 2]), 1)).toThrow(/not a map/);
    expect(() => bodyWithSeq(encode({ seq: 1, did: "x" }), 2)).toThrow(/already has seq/);
    const cut = encode({ ops: [1, 2, 3], rev: "x".repeat(40), time: "t" });
    expect(() => bodyWithSeq(cut.subarray(0, 10), 1)).toThrow(/ends early/);
    expect(() => bodyWithSeq(encode({ a: 1 }), -1)).toThrow(/non-negative/);
  });

  test("rowToEvent: an #account frame still says whether the account was deleted", () => {
    const row = (type: string, body: Record<string, unknown>) => ({ seq: 9, did: "did:plc:abc", event_type: type, event: encodeBody(body), sequenced_at: "" });
    const deleted = rowToEvent(row("account", accountBody("did:plc:abc", false, "deleted")) as never);
    expect(deleted.deletesAccount).toBe(true);
    const identity = rowToEvent(row("identity", identityBody("did:plc:abc", "a.test")) as never);
    expect(identity.deletesAccount).toBeUndefined();
    // The frame is the header then the body with seq.
    const header = encode({ op: 1, t: "#identity" });
    expect(Buffer.from(identity.frame.subarray(0, header.length)).equals(Buffer.from(header))).toBe(true);
    expect(decode(identity.frame.subarray(header.length))).toEqual({ did: "did:plc:abc", handle: "a.test", seq: 9 });
  });
});
