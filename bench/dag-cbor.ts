/**
 * Micro-benchmark of src/repo/dag-cbor.ts against @ipld/dag-cbor and
 * @atproto/lex-cbor on the values of a createRecord write: a post record,
 * MST nodes of 4, 16 and 30 entries, a signed commit; then CIDs.
 *
 *   flock /tmp/aurora-heavy.lock node_modules/.bin/bun bench/dag-cbor.ts [--ms 400]
 *
 * Each case runs for a fixed time (after a warm-up) and reports ns per call
 * and the ratio of each library to ours. Bounded: about 12 s in all.
 */
import { encode as ipldEncode } from "@ipld/dag-cbor";
import { encode as lexEncode } from "@atproto/lex-cbor";
import { cidForRecord } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { cidForDagCbor } from "@/repo/dag-cbor-cid";
import { encodeDagCbor } from "@/repo/dag-cbor";

const msArg = process.argv.indexOf("--ms");
const MS = msArg > 0 ? Number(process.argv[msArg + 1]) : 400;

function timeIt(fn: () => unknown): number {
  const warmEnd = performance.now() + MS / 4;
  while (performance.now() < warmEnd) for (let i = 0; i < 100; i++) fn();
  let calls = 0;
  const start = Bun.nanoseconds();
  const end = start + MS * 1e6;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) fn();
    calls += 100;
    now = Bun.nanoseconds();
  }
  return (now - start) / calls;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn();
  let calls = 0;
  const start = Bun.nanoseconds();
  const end = start + MS * 1e6;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) await fn();
    calls += 100;
    now = Bun.nanoseconds();
  }
  return (now - start) / calls;
}

// ---- values ----

const cidOf = (seed: string) => cidForDagCbor(encodeDagCbor({ seed }));
const blobCid = CID.parse("bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity");

const post = {
  $type: "app.bsky.feed.post",
  text: "Trying out the new PDS today — writes feel snappy! Details at https://example.com/posts/aurora 🚀",
  createdAt: "2026-12-02T01:02:03.456Z",
  langs: ["en"],
  facets: [
    {
      index: { byteStart: 66, byteEnd: 98 },
      features: [{ $type: "app.bsky.richtext.facet#link", uri: "https://example.com/posts/aurora" }],
    },
  ],
  reply: {
    root: { uri: "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l3qo2vuowo2b", cid: cidOf("root").toString() },
    parent: { uri: "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l3qo2vuowo2c", cid: cidOf("parent").toString() },
  },
  embed: {
    $type: "app.bsky.embed.images",
    images: [
      {
        alt: "A screenshot",
        image: { $type: "blob", ref: blobCid, mimeType: "image/jpeg", size: 123456 },
        aspectRatio: { width: 1200, height: 800 },
      },
    ],
  },
};

function mstNode(entries: number) {
  const e = [];
  for (let i = 0; i < entries; i++) {
    const suffix = `3l${(1000000000 + i * 7919).toString(36)}aa2b`;
    const key = i === 0 ? `app.bsky.feed.post/${suffix}` : suffix.slice(4);
    e.push({ p: i === 0 ? 0 : 23, k: new TextEncoder().encode(key), v: cidOf(`v${i}`), t: i % 3 === 0 ? cidOf(`t${i}`) : null });
  }
  return { l: cidOf("left"), e };
}

const commit = {
  did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
  version: 3,
  data: cidOf("root"),
  rev: "3l3qo2vuowo2b",
  prev: null,
  sig: new Uint8Array(64).fill(7),
};

const cases: [string, unknown][] = [
  ["post record", post],
  ["MST node, 4 entries", mstNode(4)],
  ["MST node, 16 entries", mstNode(16)],
  ["MST node, 30 entries", mstNode(30)],
  ["signed commit", commit],
];

const rows: string[] = [];
const fmt = (ns: number) => ns.toFixed(0).padStart(7);
const ratio = (theirs: number, ours: number) => `${(theirs / ours).toFixed(2)}x`.padStart(7);

rows.push("encode                     ours ns   ipld ns    lex ns  ipld/ours lex/ours");
for (const [name, value] of cases) {
  const ours = timeIt(() => encodeDagCbor(value));
  const ipld = timeIt(() => ipldEncode(value));
  const lex = timeIt(() => lexEncode(value as never));
  rows.push(`${name.padEnd(24)} ${fmt(ours)}   ${fmt(ipld)}   ${fmt(lex)}   ${ratio(ipld, ours)}  ${ratio(lex, ours)}`);
}

const postBytes = encodeDagCbor(post);
rows.push("");
rows.push("CID of the post record                                ns   vs ours");
const oursCid = timeIt(() => cidForDagCbor(encodeDagCbor(post)));
const repoCid = await timeAsync(() => cidForRecord(post as never));
const ipldCid = await timeAsync(async () => CID.createV1(0x71, await sha256.digest(ipldEncode(post))));
const parseRound = await timeAsync(async () => CID.parse((await cidForRecord(post as never)).toString()));
rows.push(`ours: cidForDagCbor(encodeDagCbor(v))             ${fmt(oursCid)}     1.00x`);
rows.push(`@atproto/repo cidForRecord (async)                ${fmt(repoCid)}   ${ratio(repoCid, oursCid)}`);
rows.push(`@ipld encode + multiformats sha256 (async)        ${fmt(ipldCid)}   ${ratio(ipldCid, oursCid)}`);
rows.push(`prepare.ts today: CID.parse(cidForRecord().toString()) ${fmt(parseRound)} ${ratio(parseRound, oursCid)}`);
const hashOnly = timeIt(() => cidForDagCbor(postBytes));
rows.push(`hash + CID object only (${postBytes.length} bytes)            ${fmt(hashOnly)}`);
const freshToString = timeIt(() => cidForDagCbor(postBytes).toString());
rows.push(`hash + CID + first toString()                     ${fmt(freshToString)}`);
const cached = cidForDagCbor(postBytes);
cached.toString();
rows.push(`toString() again on one CID (multiformats caches)  ${fmt(timeIt(() => cached.toString()))}`);

console.log(`Bun ${Bun.version}, ${MS} ms a case\n${rows.join("\n")}`);
