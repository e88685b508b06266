import { BlockMap, blocksToCarFile } from "@atproto/repo";
import type { CommitDetails } from "./types";

type Cid = Parameters<typeof blocksToCarFile>[0];

/**
 * The `blocks` of a commit's firehose event (Sync 1.1): a CAR rooted at the
 * commit, holding every block the commit added and the MST proof of each op,
 * enough for a consumer to check the ops against `prevData` and the new root.
 */
export function commitDiffCar(commit: CommitDetails): Promise<Uint8Array> {
  const blocks = new BlockMap();
  blocks.addMap(commit.newBlocks);
  blocks.addMap(commit.relevantBlocks);
  return blocksToCarFile(commit.cid as unknown as Cid, blocks);
}
