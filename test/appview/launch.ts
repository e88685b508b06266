/**
 * Run by the Node 22 of the AppView install (type stripping, no build step):
 * the reference AppView (@atproto/bsky) as dev-env's TestBsky wires it — the
 * API server, its dataplane on the same PostgreSQL, and a RepoSubscription
 * indexing one PDS's firehose. Creates its own did:plc (services
 * #bsky_appview and #bsky_notif) in the given PLC directory, prints one JSON
 * line `{"did","url"}` once listening, and stops cleanly on SIGTERM;
 * SIGUSR1 / SIGUSR2 pause and resume indexing (`{"indexing"}` lines).
 * Usage: node launch.ts <install dir>; configured by APPVIEW_* variables.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bindLoopbackOnly } from "../../bench/lib/loopback.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node launch.ts <appview install dir>");
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const port = Number(env("APPVIEW_PORT"));
const dataplanePort = Number(env("APPVIEW_DATAPLANE_PORT"));
const plcUrl = env("APPVIEW_PLC_URL");
const pdsUrl = env("APPVIEW_PDS_URL");
const dbUrl = env("APPVIEW_DB_URL");
const schema = process.env.APPVIEW_DB_SCHEMA || "appview";

bindLoopbackOnly();
const load = (pkg: string) => import(pathToFileURL(join(dir, "node_modules", pkg)).href);
const bsky = await load("@atproto/bsky/dist/index.js");
const { Secp256k1Keypair } = await load("@atproto/crypto/dist/index.js");
const plc = await load("@did-plc/lib/dist/index.js");

const url = `http://localhost:${port}`;
const key = await Secp256k1Keypair.create();
const plcClient = new plc.Client(plcUrl);
const did: string = await plcClient.createDid({
  signingKey: key.did(),
  rotationKeys: [key.did()],
  handle: "appview.test",
  pds: url,
  signer: key,
});
await plcClient.updateData(did, key, (data: { services: Record<string, unknown> }) => {
  data.services.bsky_appview = { type: "BskyAppView", endpoint: url };
  data.services.bsky_notif = { type: "BskyNotificationService", endpoint: url };
  return data;
});

const migrations = new bsky.Database({ url: dbUrl, schema });
await migrations.migrateToLatestOrThrow();
await migrations.close();
const db = new bsky.Database({ url: dbUrl, schema, poolSize: 10 });
const dataplane = await bsky.DataPlaneServer.create(db, dataplanePort, plcUrl, globalThis.fetch);

// `.test` handles have no DNS or https home here: after the real resolver
// fails, ask the PDS that hosts them (dev-env's mock resolvers do the same).
const handles = dataplane.idResolver.handle;
const resolveHandle = handles.resolve.bind(handles);
handles.resolve = async (handle: string) => {
  const found = await resolveHandle(handle);
  if (found) return found;
  const res = await fetch(`${pdsUrl}/xrpc/com.atproto.identity.resolveHandle?handle=${encodeURIComponent(handle)}`);
  return res.ok ? ((await res.json()) as { did: string }).did : undefined;
};

const config = new bsky.ServerConfig({
  version: "0.0.0",
  port,
  publicUrl: url,
  serverDid: did,
  alternateAudienceDids: [],
  didPlcUrl: plcUrl,
  dataplaneUrls: [`http://localhost:${dataplanePort}`],
  dataplaneHttpVersion: "1.1",
  // No bsync here: mutes, bookmarks and notification preferences are not exercised.
  bsyncUrl: "http://localhost:1",
  bsyncHttpVersion: "1.1",
  modServiceDid: "did:example:invalidMod",
  adminPasswords: [env("APPVIEW_ADMIN_PASSWORD")],
  etcdHosts: [],
  bigThreadUris: new Set(),
  maxThreadParents: 50,
  disableSsrfProtection: true,
  searchTagsHide: new Set(),
  searchTagsHideAll: new Set(),
  threadTagsBumpDown: new Set(),
  threadTagsHide: new Set(),
  visibilityTagHide: "",
  visibilityTagRankPrefix: "",
  debugFieldAllowedDids: new Set(),
  draftsLimit: 500,
  feedGenSkeletonTimeout: 5000,
});
const server = bsky.BskyAppView.create({ config, signingKey: key });
const sub = new bsky.RepoSubscription({ service: pdsUrl.replace(/^http/, "ws"), db, idResolver: dataplane.idResolver });
await server.start();
void sub.start();
console.log(JSON.stringify({ did, url }));

// Tests make the AppView lag behind the PDS (read-after-write) and catch up.
process.on("SIGUSR1", async () => {
  await sub.stop();
  console.log(JSON.stringify({ indexing: false }));
});
process.on("SIGUSR2", async () => {
  await sub.start();
  console.log(JSON.stringify({ indexing: true }));
});

process.once("SIGTERM", async () => {
  await server.destroy().catch(() => {});
  await sub.destroy().catch(() => {});
  await dataplane.destroy().catch(() => {});
  await db.close().catch(() => {});
  process.exit(0);
});
