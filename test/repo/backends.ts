/**
 * The two backend sets the repository tests run on: SQLite + disk (the
 * defaults) and PostgreSQL + S3 (the shared test services, a fresh database
 * and a fresh key prefix per test file).
 */
import { randomBytes } from "node:crypto";
import postgresjs from "postgres";
import { Secp256k1Keypair } from "@atproto/crypto";
import { postgres } from "@plugins/db-postgres";
import { s3 } from "@plugins/storage-s3";
import { bundledRecordValidator } from "@/lexicon";
import { RepoService } from "@/repo/service";
import { createRepo } from "@/repo/create";
import type { UserConfig } from "@/config/schema";
import type { ContextOverrides } from "@/context";
import { S3_CREDENTIALS } from "@test/support/services";
import { type TestContext, testContext } from "@test/support/context";

export interface Backend {
  readonly name: string;
  /**
   * A server context on this backend set, with `user` config on top (and `overrides` besides the backends, e.g.
   * extra methods); `dispose` removes what `open` created.
   */
  open(user?: UserConfig, overrides?: Omit<ContextOverrides, "db" | "blobs">): Promise<TestContext>;
  dispose(): Promise<void>;
}

export const sqliteDisk: Backend = {
  name: "sqlite+disk",
  open: (user = {}, overrides = {}) => testContext(user, overrides),
  dispose: async () => {},
};

/** `maxConnections`: the pool size (a small pool shows which work holds connections). */
export function postgresS3(options: { maxConnections?: number } = {}): Backend {
  const base = process.env.AURORA_TEST_POSTGRES_URL;
  const endpoint = process.env.AURORA_TEST_S3_ENDPOINT;
  const bucket = process.env.AURORA_TEST_S3_BUCKET;
  if (!base || !endpoint || !bucket) throw new Error("shared test services unset: run via scripts/with-services.ts");
  const name = `aurora_repo_${randomBytes(8).toString("hex")}`;
  const admin = postgresjs(base, { max: 1, onnotice: () => {} });
  return {
    name: "postgres+s3",
    async open(user = {}, overrides = {}) {
      await admin.unsafe(`create database ${name}`);
      return testContext({
        ...user,
        db: postgres({ url: Object.assign(new URL(base), { pathname: `/${name}` }).toString(), maxConnections: options.maxConnections ?? 20 }),
        blobs: s3({
          bucket,
          endpoint,
          ...S3_CREDENTIALS,
          region: "us-east-1",
          forcePathStyle: true,
          checksums: "when_required",
          prefix: `${name}/`,
        }),
      }, overrides);
    },
    async dispose() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export const BACKENDS: (() => Backend)[] = [() => sqliteDisk, postgresS3];

/** A repository service over `ctx` whose accounts' keys live in memory (no account service needed). */
export function repoHarness(ctx: TestContext) {
  const keys = new Map<string, Secp256k1Keypair>();
  const blobs = ctx.blobService;
  // The harness makes no account rows: its keys come from memory, whatever the row says (null).
  const repo = new RepoService(ctx.db, blobs, bundledRecordValidator(), async (did) => {
    const key = keys.get(did);
    if (!key) throw new Error(`no key for ${did}`);
    return key;
  }, ctx.log);
  let n = 0;
  return {
    blobs,
    repo,
    keys,
    /** A new repository with a fresh did:plc-shaped DID and key. */
    async newRepo(): Promise<{ did: string; key: Secp256k1Keypair }> {
      const did = `did:plc:${(randomBytes(15).toString("hex") + String(n++)).replace(/[^a-z2-7]/g, "a").slice(0, 24).padEnd(24, "a")}`;
      const key = await Secp256k1Keypair.create({ exportable: true });
      keys.set(did, key);
      await ctx.db.transaction((tx) => createRepo(tx, did, key));
      return { did, key };
    },
  };
}
