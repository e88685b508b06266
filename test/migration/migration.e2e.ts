/**
 * Account migration against the reference PDS (@atproto/pds as the benchmark
 * installs it), the goat flow through `migrate()`: an account with posts,
 * follows, likes, an avatar, preferences and an app password moves from a
 * reference PDS to Aurora, then from Aurora to a second reference PDS (the
 * first one still holds the deactivated account, and the reference refuses
 * to create an account it holds: 400 AlreadyExists "Repo already exists"). On SQLite + disk
 * and on PostgreSQL + S3. Slow (a Node 22 child per reference PDS):
 * `npm run test:migration`, not part of `npm test`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ReferenceInstall } from "../../bench/reference/install";
import type { UserConfig } from "@/config/schema";
import type { DatabasePlugin } from "@/contracts/db";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { s3 } from "@plugins/storage-s3";
import { type Node, startNode } from "@test/e2e/accounts-support";
import { eventually } from "@test/support/eventually";
import { FirehoseClient, freshPostgres } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { S3_CREDENTIALS } from "@test/support/services";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";
import { type Seeded, expectMigrationEvents, expectMoved, seedAccount, signingKey } from "./checks";
import { MigrationStepError, migrate } from "./migrate";
import { installReferencePds, type RunningReference, startReference } from "./reference";

const since = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;
const timings: Record<string, number> = {};
let install: ReferenceInstall;

beforeAll(async () => {
  const t0 = performance.now();
  install = await installReferencePds();
  timings.installSeconds = since(t0);
}, 900_000);

afterAll(() => console.error(`[migration] timings ${JSON.stringify(timings)}`));

interface Backend {
  name: string;
  open(dir: string): Promise<{ db: DatabasePlugin; config: UserConfig; dispose(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: "sqlite+disk", open: async (dir) => ({ db: sqlite({ path: join(dir, "aurora.sqlite") }), config: {}, dispose: async () => {} }) },
  {
    name: "postgres+s3",
    async open() {
      const endpoint = process.env.AURORA_TEST_S3_ENDPOINT;
      const bucket = process.env.AURORA_TEST_S3_BUCKET;
      if (!endpoint || !bucket) throw new Error("AURORA_TEST_S3_* unset: run through `npm run test:migration`");
      const pg = await freshPostgres();
      const prefix = `migration-${crypto.randomUUID()}/`;
      return {
        db: postgres({ url: pg.url, maxConnections: 5, minConnections: 1 }),
        config: { blobs: s3({ bucket, endpoint, ...S3_CREDENTIALS, region: "us-east-1", forcePathStyle: true, checksums: "when_required", prefix }) },
        dispose: () => pg.drop(),
      };
    },
  },
];

/** The mailed PLC token: the first mail to `email` after those there before the request. */
async function mailedToken(smtp: SmtpSink, email: string, request: () => Promise<void>): Promise<string> {
  const seen = smtp.messages().filter((m) => m.to.includes(email)).length;
  await request();
  return tokenIn(await smtp.next(email, seen));
}

for (const backend of BACKENDS) {
  describe(`migration with the reference PDS, Aurora on ${backend.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), "aurora-migration-"));
    let plc: TestPlc;
    let smtp: SmtpSink;
    let source: RunningReference;
    let target: RunningReference;
    let aurora: Node;
    let dispose: () => Promise<void> = async () => {};
    let firehose: FirehoseClient;
    let targetFirehose: FirehoseClient;
    /** The account moved to Aurora, once it got there. */
    let seeded: Seeded | undefined;
    const key = (name: string) => `${backend.name} ${name}`;

    beforeAll(async () => {
      plc = await startPlc();
      smtp = await startSmtpSink();
      let t0 = performance.now();
      const start = (name: string) => startReference({ install, plcUrl: plc.url, smtpUrl: smtp.url, workDir: join(dir, name) });
      [source, target] = await Promise.all([start("source"), start("target")]);
      timings[key("reference start s")] = since(t0);
      t0 = performance.now();
      const opened = await backend.open(dir);
      dispose = opened.dispose;
      aurora = await startNode({
        plcUrl: plc.url,
        db: opened.db,
        config: {
          ...opened.config,
          service: { inviteRequired: false },
          identity: { plcUrl: plc.url, allowPrivateAddresses: true },
          email: { smtpUrl: smtp.url, fromAddress: "aurora@localhost.test" },
        },
      });
      timings[key("aurora start s")] = since(t0);
      firehose = new FirehoseClient(Number(new URL(aurora.url).port));
      targetFirehose = new FirehoseClient(Number(new URL(target.url).port));
      await Promise.all([firehose.opened, targetFirehose.opened]);
    }, 120_000);

    afterAll(async () => {
      firehose?.close();
      targetFirehose?.close();
      await aurora?.stop();
      await Promise.all([source?.stop(), target?.stop()]);
      await dispose();
      await smtp?.stop();
      await plc?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /**
     * `migrate()` from the PDS at `from.url` (its agent logged in) to the one at `to.url`, then every
     * check of the proof, the events on the new PDS's firehose included.
     */
    async function move(account: Seeded, from: { agent: AtpAgent; url: string; name: string }, to: { url: string; name: string; firehose: FirehoseClient }) {
      const t0 = performance.now();
      const newAgent = new AtpAgent({ service: to.url });
      const previousKey = await signingKey(plc.url, account.did);
      const report = await migrate(from.agent, newAgent, {
        handle: account.handle,
        email: account.email,
        password: account.password,
        plcToken: (request) => mailedToken(smtp, account.email, request),
        names: { from: from.name, to: to.name },
        log: console.error,
      });
      timings[key(`${from.name} → ${to.name} s`)] = since(t0);
      expect(report.blobs).toBe(account.blobs.size);
      await expectMoved(account, { plcUrl: plc.url, oldPds: from.url, newPds: to.url, newAgent, previousKey });
      await eventually(() => expectMigrationEvents(to.firehose.frames, account.did));
    }

    // The harness itself, with the reference on both ends: every step of the flow as the reference serves it.
    test("an account moves between two reference PDSes", async () => {
      const { agent, seeded: other } = await seedAccount(source.url, { handle: "rex-refonly.test", email: "rex@example.com", password: "rex-password", friendDid: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" });
      await move(other, { agent, url: source.url, name: "reference" }, { url: target.url, name: "reference 2", firehose: targetFirehose });
    }, 120_000);

    test("an account on the reference PDS moves to Aurora", async () => {
      const t0 = performance.now();
      const friend = await seedAccount(source.url, { handle: "otto-stays.test", email: "otto@example.com", password: "otto-password", friendDid: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" });
      const { agent, seeded: mira } = await seedAccount(source.url, { handle: "mira-moves.test", email: "mira@example.com", password: "mira-password", friendDid: friend.seeded.did });
      timings[key("seed s")] = since(t0);
      await move(mira, { agent, url: source.url, name: "reference" }, { url: aurora.url, name: "Aurora", firehose });
      seeded = mira;
    }, 120_000);

    test("the same account moves from Aurora to another reference PDS", async () => {
      if (!seeded) throw new Error("skipped: the move to Aurora did not finish");
      const onAurora = aurora.agent();
      await onAurora.login({ identifier: seeded.did, password: seeded.password });
      const before = firehose.frames.length;
      await move(seeded, { agent: onAurora, url: aurora.url, name: "Aurora" }, { url: target.url, name: "reference", firehose: targetFirehose });
      // Aurora told its subscribers the account went inactive.
      expect(firehose.frames.slice(before).some((f) => f.header.t === "#account" && f.body.did === seeded!.did && f.body.active === false)).toBe(true);
    }, 120_000);

    // Why the return trip goes to a second reference: the first still holds the deactivated account.
    test("the first reference PDS refuses to take back an account it still holds", async () => {
      if (!seeded) throw new Error("skipped: the account did not come back to a reference PDS");
      const onTarget = new AtpAgent({ service: target.url });
      await onTarget.login({ identifier: seeded.did, password: seeded.password });
      const refused = await migrate(onTarget, new AtpAgent({ service: source.url }), {
        handle: seeded.handle,
        email: seeded.email,
        password: seeded.password,
        plcToken: () => Promise.reject(new Error("not reached")),
        names: { from: "reference 2", to: "reference" },
      }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(MigrationStepError);
      expect(refused).toMatchObject({ side: "reference", nsid: "com.atproto.server.createAccount", status: 400 });
      expect((refused as Error).message).toContain("AlreadyExists: Repo already exists");
    }, 60_000);
  });
}
