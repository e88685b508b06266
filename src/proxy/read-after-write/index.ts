import type { AppContext } from "@/app-context";

/** What the proxy hands over for a JSON response of a method in READ_AFTER_WRITE_METHODS. */
export interface ReadAfterWriteInput {
  readonly ctx: AppContext;
  readonly nsid: string;
  /** The requesting account, whose own newer records are merged in. */
  readonly viewer: string;
  /** The upstream's `atproto-repo-rev` response header: how far it has indexed the viewer's repo. */
  readonly upstreamRev: string;
  /** The upstream's parsed JSON body. */
  readonly body: unknown;
}

/** The methods whose responses get the viewer's own newer records merged in. */
export const READ_AFTER_WRITE_METHODS: ReadonlySet<string> = new Set();

/** The body with the viewer's records newer than `upstreamRev` merged in, or null to pass the upstream body on unchanged. */
export async function readAfterWrite(_input: ReadAfterWriteInput): Promise<unknown | null> {
  return null;
}
