import { describe, expect, test } from "bun:test";
import * as dagCbor from "@ipld/dag-cbor";
import { bigCommit, carFile, cborBlock } from "@test/support/firehose";
import { SequencerInputError, accountBody, commitBody, encodeBody, encodeWithTimeSlot, identityBody, syncBody } from "./encode";
import type { CommitEventInput } from "./types";

const did = "did:plc:encodetest000000000000";

describe("event bodies", () => {
  test("a commit body has every field the lexicon requires, with CID links and no seq or time", async () => {
    const input = await bigCommit(did, 16);
    const body = dagCbor.decode<Record<string, unknown>>(dagCbor.encode(commitBody({ ...input, since: "3kabcdefghii2", prevData: input.commit })));
    expect(Object.keys(body).sort()).toEqual(["blobs", "blocks", "commit", "ops", "prevData", "rebase", "repo", "rev", "since", "tooBig"]);
    expect(body.ops).toEqual([{ action: "create", path: "test.blob/3kabcdefghij2", cid: input.ops[0]!.cid }]);
  });

  test("identity, account and sync bodies", async () => {
    expect(identityBody(did, undefined)).toEqual({ did });
    expect(identityBody(did, "handle.invalid")).toEqual({ did, handle: "handle.invalid" });
    expect(accountBody(did, false, "takendown")).toEqual({ did, active: false, status: "takendown" });
    const [cid, bytes] = await cborBlock({ did });
    const car = carFile(cid, [[cid, bytes]]);
    expect(syncBody(did, cid, "3kabcdefghij2", car)).toEqual({ did, blocks: car, rev: "3kabcdefghij2" });
  });

  const cases: [string, (c: CommitEventInput) => CommitEventInput, string][] = [
    ["a bad DID", (c) => ({ ...c, repo: "alice" }), "not a DID"],
    ["a rev that is not a TID", (c) => ({ ...c, rev: "1" }), "rev must be a TID"],
    ["since without prevData", (c) => ({ ...c, since: "3kabcdefghii2" }), "prevData is required"],
    ["more than 200 ops", (c) => ({ ...c, ops: Array.from({ length: 201 }, () => c.ops[0]!) }), "at most 200 ops"],
    ["blocks over 2 MB", (c) => ({ ...c, blocks: new Uint8Array(2_000_001) }), "at most 2000000 bytes"],
    ["blocks that are not a CAR", (c) => ({ ...c, blocks: new Uint8Array([1, 2, 3]) }), "not a CAR"],
    ["a CAR rooted elsewhere", (c) => ({ ...c, commit: c.ops[0]!.cid! }), "first root must be the commit"],
    ["a create with prev", (c) => ({ ...c, ops: [{ ...c.ops[0]!, prev: c.commit }] }), "create has no prev"],
    ["an update without prev", (c) => ({ ...c, ops: [{ ...c.ops[0]!, action: "update" }] }), "update needs prev"],
    ["a delete with a cid", (c) => ({ ...c, ops: [{ ...c.ops[0]!, action: "delete", prev: c.commit }] }), "delete has no cid"],
    ["a path without rkey", (c) => ({ ...c, ops: [{ ...c.ops[0]!, path: "app.bsky.feed.post" }] }), "collection/rkey"],
    ["a CID that is not one", (c) => ({ ...c, commit: "bafy-nope" }), "commit is not a CID"],
  ];
  test.each(cases)("a commit with %s is refused", async (_, change, message) => {
    const input = change(await bigCommit(did, 16));
    expect(() => commitBody(input)).toThrow(SequencerInputError);
    expect(() => commitBody(input)).toThrow(message);
  });

  test("other events are checked too", async () => {
    const [cid, bytes] = await cborBlock({ did });
    const [other] = await cborBlock({ other: true });
    expect(() => accountBody(did, true, "deactivated")).toThrow("an active account has no status");
    expect(() => identityBody(did, "not a handle")).toThrow("not a handle");
    expect(() => syncBody(did, other, "3kabcdefghij2", carFile(cid, [[cid, bytes]]))).toThrow("first root must be the commit");
    expect(() => syncBody(did, cid, "3kabcdefghij2", carFile(cid, [[cid, new Uint8Array(10_001)]]))).toThrow("at most 10000 bytes");
  });

  test("the placeholder time is found, even when another field holds the same bytes, and a time written over it decodes", async () => {
    const time = "2026-12-02T01:30:00.123Z";
    const entry = dagCbor.encode({ time: "0000-00-00T00:00:00.000Z" }).subarray(1);
    const input = await bigCommit(did, 16);
    const decoy = { ...identityBody(did, undefined), note: entry, zzz: entry };
    for (const body of [commitBody(input), identityBody(did, "handle.invalid"), decoy]) {
      const { bytes, at } = encodeWithTimeSlot(body);
      bytes.set(new TextEncoder().encode(time), at);
      expect(bytes).toEqual(encodeBody({ ...body, time }));
    }
  });
});
