import { afterAll, beforeAll, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { DidResolver } from "@atproto/identity";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./support/eventually";
import { FirehoseClient } from "./support/firehose";
import { BUN, ROOT, runCommand, waitForHttp } from "./support/process";
import { freePort } from "./support/services";
import { builtBinary } from "@test/support/binary";

// `aurora dev` as a newcomer runs it: no PLC URL anywhere, no network beyond
// loopback. The compiled binary runs from a directory with no node_modules, so
// the embedded directory (@did-plc/server) must be inside it.
const dir = mkdtempSync(join(tmpdir(), "aurora-dev-"));
const binary = join(dir, "aurora");
const env = { PATH: "/usr/bin:/bin", HOME: dir };

beforeAll(async () => {
  copyFileSync(await builtBinary(), binary);
  await runCommand(["chmod", "+x", binary]);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface DevServer {
  url: string;
  port: number;
  plcUrl: string;
  log: () => string;
  stop(): Promise<number>;
}

/** Start `cmd` (an `aurora dev`) on a free port and wait until it serves; the embedded directory's URL comes from its start line. */
async function startDev(cmd: string[], cwd: string, extraEnv: Record<string, string> = {}, fixedPort?: number): Promise<DevServer> {
  const port = fixedPort ?? (await freePort());
  const child = Bun.spawn(cmd, { cwd, env: { ...env, ...extraEnv, PDS_PORT: String(port) }, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  let out = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) out += decoder.decode(chunk);
  })();
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/xrpc/_health`, 20_000);
  const plcUrl = await eventually(() => {
    const found = /embedded PLC directory at (http:\/\/127\.0\.0\.1:\d+), identities are not published to the network/.exec(out);
    if (!found) throw new Error("no embedded PLC line yet");
    return found[1]!;
  });
  return {
    url,
    port,
    plcUrl,
    log: () => out,
    async stop() {
      child.kill("SIGTERM");
      return await child.exited;
    },
  };
}

test("the binary's `aurora dev`: sign up, post, read back, resolve the DID, see the commit on the firehose, survive a restart", async () => {
  const first = await startDev([binary, "dev"], dir);
  let did: string;
  let uri: string;
  try {
    // The directory is bound to loopback and the server too (dev defaults).
    expect(first.log()).toContain('"listen":"127.0.0.1:');
    const firehose = new FirehoseClient(first.port);
    await firehose.opened;

    const agent = new AtpAgent({ service: first.url });
    // No invite code: `aurora dev` turns invites off.
    await agent.createAccount({ handle: "alice.test", email: "alice@example.com", password: "correct-horse-battery" });
    did = agent.session!.did;
    expect(did).toMatch(/^did:plc:[a-z2-7]{24}$/);
    const post = await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: "app.bsky.feed.post",
      record: { $type: "app.bsky.feed.post", text: "hello from a local network", createdAt: new Date().toISOString() },
    });
    uri = post.data.uri;
    const rkey = uri.split("/").pop()!;
    const got = await agent.com.atproto.repo.getRecord({ repo: did, collection: "app.bsky.feed.post", rkey });
    expect((got.data.value as { text: string }).text).toBe("hello from a local network");

    // The DID lives in the embedded directory, with this server as its PDS.
    const plain = (await (await fetch(`${first.plcUrl}/${did}`)).json()) as { alsoKnownAs: string[] };
    expect(plain.alsoKnownAs).toEqual(["at://alice.test"]);
    const doc = await new DidResolver({ plcUrl: first.plcUrl }).resolveAtprotoData(did);
    expect(doc).toMatchObject({ did, handle: "alice.test", pds: `http://localhost:${first.port}` });

    const commit = await eventually(() => {
      const frame = firehose.frames.find((f) => f.header.t === "#commit" && (f.body.ops as { path: string }[]).some((op) => uri.endsWith(op.path)));
      if (!frame) throw new Error("no commit frame yet");
      return frame;
    });
    expect(commit.body.repo).toBe(did);
    firehose.ws.close();
  } finally {
    expect(await first.stop()).toBe(0);
  }
  expect(readFileSync(join(dir, "data/plc-operations.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);

  // A restart keeps the data directory and replays the directory's operations: the account still works.
  // Same port: the DID document names the PDS by its URL, as it would with the default port 2583.
  const second = await startDev([binary, "dev"], dir, {}, first.port);
  try {
    expect(second.log()).toContain('"replayedOperations":1');
    expect(second.log()).not.toContain("does not know");
    const agent = new AtpAgent({ service: second.url });
    await agent.login({ identifier: "alice.test", password: "correct-horse-battery" });
    expect(agent.session!.did).toBe(did);
    const doc = await new DidResolver({ plcUrl: second.plcUrl }).resolveAtprotoData(did);
    expect(doc.handle).toBe("alice.test");
    // A handle change is a new PLC operation on the replayed chain.
    await agent.com.atproto.identity.updateHandle({ handle: "alice2.test" });
    expect((await new DidResolver({ plcUrl: second.plcUrl }).resolveAtprotoData(did)).handle).toBe("alice2.test");
    await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: "app.bsky.feed.post",
      record: { $type: "app.bsky.feed.post", text: "still here", createdAt: new Date().toISOString() },
    });
  } finally {
    expect(await second.stop()).toBe(0);
  }
}, 90_000);

test("`aurora dev` warns about accounts whose DIDs the embedded directory does not know", async () => {
  const ops = join(dir, "data/plc-operations.jsonl");
  expect(existsSync(ops)).toBe(true);
  rmSync(ops);
  const server = await startDev([binary, "dev"], dir);
  try {
    await eventually(() => server.log().includes("accounts in the data directory have DIDs the embedded PLC directory does not know"), {
      what: "the unknown-DID warning",
    });
    expect(server.log()).toContain('"count":1');
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 30_000);

test("`bun src/main.ts dev` (npm start) runs the embedded directory from the source tree", async () => {
  const work = mkdtempSync(join(tmpdir(), "aurora-dev-src-"));
  try {
    const plcPort = await freePort();
    const server = await startDev([BUN, join(ROOT, "src/main.ts"), "dev"], work, { PDS_EMBEDDED_PLC_PORT: String(plcPort) });
    try {
      expect(server.plcUrl).toBe(`http://127.0.0.1:${plcPort}`);
      const agent = new AtpAgent({ service: server.url });
      await agent.createAccount({ handle: "bob.test", email: "bob@example.com", password: "correct-horse-battery" });
      expect((await fetch(`${server.plcUrl}/${agent.session!.did}`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 60_000);

test("the embedded directory is refused outside dev mode on localhost", async () => {
  const elsewhere = await runCommand([binary, "dev"], { cwd: dir, env: { ...env, PDS_HOSTNAME: "pds.example.com" } });
  expect(elsewhere.code).toBe(1);
  expect(elsewhere.stderr).toContain("aurora dev runs a local server only");

  const served = await runCommand([binary, "config", "check"], {
    cwd: dir,
    env: { ...env, PDS_HOSTNAME: "pds.example.com", PDS_DID_PLC_URL: "embedded" },
  });
  expect(served.code).toBe(1);
  expect(served.stderr).toContain('identity.plcUrl: "embedded" is for local development only');

  const notDev = await runCommand([binary, "config", "check"], { cwd: dir, env: { ...env, PDS_DEV_MODE: "false", PDS_DID_PLC_URL: "embedded" } });
  expect(notDev.code).toBe(1);
  expect(notDev.stderr).toContain("service.devMode is false");
});
