import { expect, test } from "bun:test";
import { BlockMap, blocksToCarFile, readCarWithRoot } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { carFile } from "./commit-car";
import { cidStringBytes, cidToString } from "./mst/cid";
import { cidForDagCbor } from "./dag-cbor-cid";
import { encodeDagCbor } from "./dag-cbor";

test("cidToString / cidStringBytes agree with multiformats (base32 directly, others via CID.parse)", () => {
  for (let i = 0; i < 500; i++) {
    const cid = cidForDagCbor(encodeDagCbor({ i, text: "x".repeat(i % 40) }));
    expect(cidToString(cid)).toBe(cid.toString());
    expect(Buffer.from(cidStringBytes(cid.toString())).equals(Buffer.from(cid.bytes))).toBe(true);
  }
  const raw = CID.parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  expect(cidToString(raw)).toBe(raw.toString());
  expect(Buffer.from(cidStringBytes(raw.toString())).equals(Buffer.from(raw.bytes))).toBe(true);
  const v0 = CID.parse("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n");
  expect(Buffer.from(cidStringBytes(v0.toString())).equals(Buffer.from(v0.bytes))).toBe(true);
  expect(cidToString(v0)).toBe(v0.toString());
});

test("carFile writes the same CAR as @atproto/repo's blocksToCarFile", async () => {
  const blocks = new Map<string, Uint8Array>();
  const theirs = new BlockMap();
  for (let i = 0; i < 50; i++) {
    const bytes = encodeDagCbor({ i, pad: "y".repeat(i * 7) });
    const cid = cidForDagCbor(bytes);
    blocks.set(cid.toString(), bytes);
    theirs.set(cid as never, bytes);
  }
  const root = CID.parse([...blocks.keys()][0]!);
  const ours = carFile(root, blocks);
  expect(Buffer.from(ours).equals(Buffer.from(await blocksToCarFile(root as never, theirs)))).toBe(true);
  const read = await readCarWithRoot(ours);
  expect(read.root.toString()).toBe(root.toString());
  expect(read.blocks.size).toBe(50);
});
