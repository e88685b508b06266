import type { CacheScript } from "@/contracts/cache";
import { FIXED_WINDOW } from "./fixed-window";
import type { LimitReply } from "./scripts";
import { SLIDING_LOG } from "./sliding-log";
import { TOKEN_BUCKET } from "./token-bucket";
import type { Algorithm } from "./types";

/** Each algorithm as one cache script: the same logic on the local memory store and on Redis. */
export const LIMIT_SCRIPTS: Readonly<Record<Algorithm, CacheScript<LimitReply>>> = {
  "fixed-window": FIXED_WINDOW,
  "token-bucket": TOKEN_BUCKET,
  "sliding-log": SLIDING_LOG,
};

/** Short algorithm tags for state keys: a key never changes type when an operator switches algorithms. */
export const ALGORITHM_TAGS: Readonly<Record<Algorithm, string>> = {
  "fixed-window": "fw",
  "token-bucket": "tb",
  "sliding-log": "sl",
};
