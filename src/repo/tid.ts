import { randomInt } from "node:crypto";
import { TID } from "@atproto/common-web";

/**
 * This process's clock identifier: the 10 low bits of every TID it makes
 * (the spec's 0–1023), drawn at random at start so that the nodes of a
 * cluster almost never share one.
 */
const CLOCK_ID = randomInt(1024);
let last = 0;

/**
 * A fresh TID for a record key: microseconds since the epoch, strictly
 * increasing within this process, then the clock identifier.
 * @atproto/common-web's TID.next counts microseconds as milliseconds × 1000
 * plus a counter and draws the identifier from only 32 values, so two nodes
 * creating records in the same millisecond shared a key one time in 32 per
 * pair of nodes ("Record already exists" for the second write of the same
 * repository). Here two keys collide only when both the microsecond and the
 * identifier match.
 */
export function nextTid(): string {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  last = Math.max(now, last + 1);
  return TID.fromTime(last, CLOCK_ID).toString();
}
