/**
 * Account migration from one PDS to another in the order `goat account
 * migrate` and the atproto "Account Migration" guide use, with nothing but
 * public XRPC calls through @atproto/api: the same function moves an account
 * reference → Aurora and Aurora → reference. Each step names the PDS and the
 * method, so a run against a PDS that lacks one stops with a clear message.
 */
import { AtpAgent, XRPCError } from "@atproto/api";

export interface MigrateOptions {
  /** The handle on the new PDS (it must be in one of its user domains). */
  handle: string;
  email: string;
  /** The password for the new account (goat asks for one). */
  password: string;
  inviteCode?: string;
  /**
   * The PLC operation token: call `request` (requestPlcOperationSignature on the old PDS), then read
   * the token from the mail it sends (the caller knows its mailbox and what arrived before).
   */
  plcToken: (request: () => Promise<void>) => Promise<string>;
  /** Names for the two sides in messages, e.g. "reference" and "Aurora". */
  names: { from: string; to: string };
  log?: (line: string) => void;
}

export interface MigrationReport {
  did: string;
  /** Blobs copied from the old PDS to the new one. */
  blobs: number;
  /** Seconds each step took, in order. */
  steps: { step: string; seconds: number }[];
}

/** A failed step: which PDS, which method, and what it answered. */
export class MigrationStepError extends Error {
  constructor(
    readonly side: string,
    readonly nsid: string,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    const notImplemented = status === 501 || (cause instanceof XRPCError && cause.error === "MethodNotImplemented");
    const detail = cause instanceof XRPCError ? `${cause.status} ${cause.error}: ${cause.message}` : String(cause);
    super(notImplemented ? `${side}: ${nsid} not implemented yet (${status})` : `${side}: ${nsid} failed (${detail})`, { cause });
  }
}

/**
 * Move the account `from` is logged in to over to the PDS `to` points at.
 * `from` must hold a session; `to` ends logged in to the new account.
 */
export async function migrate(from: AtpAgent, to: AtpAgent, opts: MigrateOptions): Promise<MigrationReport> {
  const did = from.session?.did;
  if (!did) throw new Error("migrate: the old PDS agent has no session");
  const steps: MigrationReport["steps"] = [];
  const step = async <T>(side: "from" | "to", nsid: string, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await run();
    } catch (err) {
      if (err instanceof MigrationStepError) throw err;
      throw new MigrationStepError(opts.names[side], nsid, err instanceof XRPCError ? err.status : undefined, err);
    } finally {
      const seconds = Math.round(performance.now() - t0) / 1000;
      steps.push({ step: `${opts.names[side]} ${nsid}`, seconds });
      opts.log?.(`[migrate] ${opts.names[side]} ${nsid} ${seconds} s`);
    }
  };

  // The service JWT's audience is the new PDS's service DID, as it names itself.
  const newServiceDid = await step("to", "com.atproto.server.describeServer", async () => (await to.com.atproto.server.describeServer()).data.did);
  const serviceJwt = await step("from", "com.atproto.server.getServiceAuth", async () =>
    (await from.com.atproto.server.getServiceAuth({ aud: newServiceDid, lxm: "com.atproto.server.createAccount" })).data.token,
  );
  await step("to", "com.atproto.server.createAccount", () =>
    to.createAccount(
      { did, handle: opts.handle, email: opts.email, password: opts.password, ...(opts.inviteCode ? { inviteCode: opts.inviteCode } : {}) },
      { headers: { authorization: `Bearer ${serviceJwt}` } },
    ),
  );
  // The session's DID document still names the old PDS, and the agent follows it; until the PLC
  // operation lands, the new account's calls must go to the new PDS itself.
  to.sessionManager.pdsUrl = new URL(to.serviceUrl);

  const car = await step("from", "com.atproto.sync.getRepo", async () => (await from.com.atproto.sync.getRepo({ did })).data);
  await step("to", "com.atproto.repo.importRepo", () => to.com.atproto.repo.importRepo(car, { encoding: "application/vnd.ipld.car" }));

  let blobs = 0;
  let cursor: string | undefined;
  do {
    const page = await step("to", "com.atproto.repo.listMissingBlobs", async () => (await to.com.atproto.repo.listMissingBlobs({ cursor, limit: 100 })).data);
    for (const { cid } of page.blobs) {
      const blob = await step("from", "com.atproto.sync.getBlob", () => from.com.atproto.sync.getBlob({ did, cid }));
      const encoding = blob.headers["content-type"] ?? "application/octet-stream";
      await step("to", "com.atproto.repo.uploadBlob", () => to.com.atproto.repo.uploadBlob(blob.data, { encoding }));
      blobs++;
    }
    cursor = page.blobs.length > 0 ? page.cursor : undefined;
  } while (cursor);

  const preferences = await step("from", "app.bsky.actor.getPreferences", async () => (await from.app.bsky.actor.getPreferences()).data.preferences);
  await step("to", "app.bsky.actor.putPreferences", () => to.app.bsky.actor.putPreferences({ preferences }));

  const credentials = await step("to", "com.atproto.identity.getRecommendedDidCredentials", async () => (await to.com.atproto.identity.getRecommendedDidCredentials()).data);
  const token = await opts.plcToken(async () => {
    await step("from", "com.atproto.identity.requestPlcOperationSignature", () => from.com.atproto.identity.requestPlcOperationSignature());
  });
  const operation = await step("from", "com.atproto.identity.signPlcOperation", async () =>
    (await from.com.atproto.identity.signPlcOperation({ token, ...credentials })).data.operation,
  );
  await step("to", "com.atproto.identity.submitPlcOperation", () => to.com.atproto.identity.submitPlcOperation({ operation }));

  await step("to", "com.atproto.server.activateAccount", () => to.com.atproto.server.activateAccount());
  await step("from", "com.atproto.server.deactivateAccount", () => from.com.atproto.server.deactivateAccount({}));
  return { did, blobs, steps };
}
