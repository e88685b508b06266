import { expect, test } from "bun:test";
import { pageBody, recordBody, recordTail, recordValue, type RecordView } from "./record-body";

const text = new TextDecoder();
const CID = "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454";
const view = (rkey: string, value: unknown, repo = "did:plc:abc%3Axyz"): RecordView => ({
  uri: `at://${repo}/app.bsky.feed.post/${rkey}`,
  cid: CID,
  tail: recordTail(CID, JSON.stringify(value)),
});
const parts = [view("3kabc", { text: "plain" }), view("3kabd", { text: "ünïcødé 🦋 \"quoted\" \\ \n", n: [1, { a: null }] }), view("self", {})];

test("a record's body is the JSON of {uri, cid, value}, byte for byte, whatever the value's characters", () => {
  for (const v of parts) {
    expect(recordValue(v)).toEqual(JSON.parse(text.decode(v.tail).slice(`","cid":"${CID}","value":`.length, -1)));
    const body = recordBody(v);
    expect(text.decode(body)).toBe(JSON.stringify({ uri: v.uri, cid: v.cid, value: recordValue(v) }));
  }
});

test("a page's body is the JSON of {records, cursor?}, with and without a cursor, empty or not", () => {
  const asJson = (records: RecordView[], cursor?: string) =>
    JSON.stringify({ records: records.map((v) => ({ uri: v.uri, cid: v.cid, value: recordValue(v) })), ...(cursor === undefined ? {} : { cursor }) });
  for (const [records, cursor] of [[parts, undefined], [parts, "3kabc"], [[], undefined], [[], "3kzzz"], [parts.slice(0, 1), "a.b:c~d-e_f"], [[parts[0]!, view("3kabe", { x: 1 }, "did:web:example.com")], undefined]] as const) {
    expect(text.decode(pageBody(records, cursor))).toBe(asJson([...records], cursor));
  }
});

test("a key that is not plain ASCII (never past the syntax checks) is refused rather than written unescaped", () => {
  expect(() => recordBody({ ...parts[0]!, uri: 'at://did:plc:x/a.b.c/"' })).toThrow("not plain ASCII");
  expect(() => pageBody(parts, "ké")).toThrow("not plain ASCII");
  expect(() => pageBody([parts[0]!, { ...parts[1]!, uri: `${parts[1]!.uri}\u0001` }])).toThrow("not plain ASCII");
  expect(() => recordTail('bafy"', "{}")).toThrow("not plain ASCII");
});
