/**
 * The account the migration test moves (posts, a follow, likes, a profile
 * with an avatar, an image post, preferences, an app password), and what
 * must hold after each move, read only through public XRPC calls.
 */
import { expect } from "bun:test";
import { AtpAgent, XRPCError } from "@atproto/api";
import { verifyRepoCar } from "@atproto/repo";
import { fakePng } from "@test/support/blobs";
import type { Frame } from "@test/support/firehose";
import { plcData } from "@test/e2e/accounts-support";

export interface Seeded {
  did: string;
  handle: string;
  email: string;
  password: string;
  appPassword: string;
  /** `collection/rkey` → record CID, as the first PDS listed them. */
  records: Map<string, string>;
  /** Blob CID → bytes. */
  blobs: Map<string, Uint8Array>;
  preferences: unknown[];
}

export const PREFERENCES = [
  { $type: "app.bsky.actor.defs#adultContentPref", enabled: false },
  { $type: "app.bsky.actor.defs#contentLabelPref", label: "nudity", visibility: "hide" },
];

const now = () => new Date().toISOString();

/** Create the account on `pds` and write everything the migration must carry. */
export async function seedAccount(pds: string, opts: { handle: string; email: string; password: string; friendDid: string }): Promise<{ agent: AtpAgent; seeded: Seeded }> {
  const agent = new AtpAgent({ service: pds });
  await agent.createAccount({ handle: opts.handle, email: opts.email, password: opts.password });
  const did = agent.session!.did;
  const avatar = fakePng(4_000);
  const picture = fakePng(30_000);
  const avatarRef = (await agent.uploadBlob(avatar, { encoding: "image/png" })).data.blob;
  const pictureRef = (await agent.uploadBlob(picture, { encoding: "image/png" })).data.blob;
  await agent.com.atproto.repo.putRecord({
    repo: did,
    collection: "app.bsky.actor.profile",
    rkey: "self",
    record: { $type: "app.bsky.actor.profile", displayName: "Migrating Alice", avatar: avatarRef },
  });
  const posts = [];
  for (let i = 0; i < 3; i++) posts.push((await agent.post({ text: `post ${i} before the move`, createdAt: now() })));
  await agent.post({ text: "a picture", createdAt: now(), embed: { $type: "app.bsky.embed.images", images: [{ image: pictureRef, alt: "noise" }] } });
  await agent.follow(opts.friendDid);
  for (const post of posts.slice(0, 2)) await agent.like(post.uri, post.cid);
  await agent.app.bsky.actor.putPreferences({ preferences: PREFERENCES });
  const appPassword = (await agent.com.atproto.server.createAppPassword({ name: "migration test" })).data.password;
  const records = await listAll(agent, did);
  const blobs = new Map([
    [avatarRef.ref.toString(), avatar],
    [pictureRef.ref.toString(), picture],
  ]);
  return { agent, seeded: { did, handle: opts.handle, email: opts.email, password: opts.password, appPassword, records, blobs, preferences: PREFERENCES } };
}

/** Every record of the repo as `collection/rkey` → CID, through describeRepo and listRecords. */
export async function listAll(agent: AtpAgent, did: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { collections } = (await agent.com.atproto.repo.describeRepo({ repo: did })).data;
  for (const collection of collections) {
    let cursor: string | undefined;
    do {
      const page = (await agent.com.atproto.repo.listRecords({ repo: did, collection, limit: 100, cursor })).data;
      for (const r of page.records) out.set(`${collection}/${r.uri.split("/").pop()}`, r.cid);
      cursor = page.records.length > 0 ? page.cursor : undefined;
    } while (cursor);
  }
  return out;
}

/** After a move from `oldPds` to `newPds`: everything the proof lists, except the firehose. */
export async function expectMoved(seeded: Seeded, opts: { plcUrl: string; oldPds: string; newPds: string; newAgent: AtpAgent; previousKey: string }): Promise<"new key" | "previous key"> {
  const { did } = seeded;
  const data = await plcData(opts.plcUrl, did);
  expect(data.services.atproto_pds?.endpoint).toBe(opts.newPds);
  expect(data.alsoKnownAs).toContain(`at://${seeded.handle}`);

  const anon = new AtpAgent({ service: opts.newPds });
  const car = (await anon.com.atproto.sync.getRepo({ did })).data;
  // Structure and records first (no key), then which key signed the head commit: an import keeps the
  // old PDS's signature until the next write (the reference does), a re-signing PDS uses the new key.
  const verified = await verifyRepoCar(car, did);
  expect(new Map(verified.creates.map((c) => [`${c.collection}/${c.rkey}`, c.cid.toString()]))).toEqual(seeded.records);
  const signedWith = async (key: string) => verifyRepoCar(car, did, key).then(() => true, () => false);
  const signedBy = (await signedWith(data.verificationMethods.atproto!)) ? "new key" : (await signedWith(opts.previousKey)) ? "previous key" : "neither key";
  console.error(`[migration] ${opts.newPds}: head commit signed by the ${signedBy}`);
  expect(signedBy).not.toBe("neither key");
  expect(await listAll(anon, did)).toEqual(seeded.records);

  for (const [cid, bytes] of seeded.blobs) {
    const blob = await anon.com.atproto.sync.getBlob({ did, cid });
    expect(Buffer.from(blob.data).equals(Buffer.from(bytes))).toBe(true);
  }
  expect((await opts.newAgent.app.bsky.actor.getPreferences()).data.preferences).toEqual(seeded.preferences as never);

  const oldStatus = (await new AtpAgent({ service: opts.oldPds }).com.atproto.sync.getRepoStatus({ did })).data;
  expect(oldStatus).toMatchObject({ active: false, status: "deactivated" });
  const newStatus = (await anon.com.atproto.sync.getRepoStatus({ did })).data;
  expect(newStatus.active).toBe(true);

  const login = new AtpAgent({ service: opts.newPds });
  await login.login({ identifier: seeded.handle, password: seeded.password });
  expect(login.session?.did).toBe(did);
  expect(login.session?.active ?? true).toBe(true);
  // App passwords live in the old PDS's account table, not in the repo: neither PDS carries them over.
  const appLogin = await new AtpAgent({ service: opts.newPds }).login({ identifier: seeded.handle, password: seeded.appPassword }).then(
    () => "accepted",
    (err) => (err instanceof XRPCError ? err.status : String(err)),
  );
  expect(appLogin).toBe(401);
  return signedBy as "new key" | "previous key";
}

/** The atproto signing key the DID document names now. */
export async function signingKey(plcUrl: string, did: string): Promise<string> {
  return (await plcData(plcUrl, did)).verificationMethods.atproto!;
}

/** The firehose saw the account's #identity, #account (active) and #sync events, in any order, after `fromIndex`. */
export function expectMigrationEvents(frames: Frame[], did: string, fromIndex = 0): true {
  const mine = frames.slice(fromIndex).filter((f) => f.header.op === 1 && f.body.did === did);
  const types = new Set(mine.map((f) => f.header.t));
  expect([...types].filter((t) => t === "#identity" || t === "#account" || t === "#sync").sort()).toEqual(["#account", "#identity", "#sync"]);
  expect(mine.some((f) => f.header.t === "#account" && f.body.active === true)).toBe(true);
  return true;
}
