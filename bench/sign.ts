/**
 * `bun bench/sign.ts [signatures]`: µs per commit signature (SHA-256 of the
 * commit bytes included) and per key import, for each secp256k1 signer
 * candidate that resolves here. Candidates that are not dependencies (wasm,
 * newer noble) are tried by name and skipped when absent: install them in a
 * scratch folder and run with NODE_PATH pointing at it to compare.
 * Every candidate must produce the same signature as @atproto/crypto (RFC 6979,
 * low-S), or the run fails. Run it under the heavy lock.
 */
import { Secp256k1Keypair } from "@atproto/crypto";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { Secp256k1Signer, secp256k1Backend } from "@/crypto/secp256k1";

const SIGNATURES = Number(process.argv[2] ?? 3000);
const IMPORTS = 300;
const COMMIT_BYTES = 200; // a commit object's dag-cbor is about this size

type Sign = (msg: Uint8Array, secret: Uint8Array) => Uint8Array | Promise<Uint8Array>;
interface Candidate {
  name: string;
  /** Prepares a key: what opening a sealed key costs. */
  load(secret: Uint8Array): unknown | Promise<unknown>;
  sign: Sign;
}

const sha256 = (msg: Uint8Array) => createHash("sha256").update(msg).digest();

/** A module that is not a dependency, or null. */
async function optional(name: string): Promise<any> {
  try {
    return await import(name);
  } catch {
    return null;
  }
}

async function candidates(): Promise<Candidate[]> {
  const list: Candidate[] = [];
  const atproto = new Map<string, Secp256k1Keypair>();
  list.push({
    name: "@atproto/crypto Secp256k1Keypair (today)",
    load: (secret) => Secp256k1Keypair.import(secret),
    async sign(msg, secret) {
      const hex = Buffer.from(secret).toString("hex");
      let kp = atproto.get(hex);
      if (!kp) atproto.set(hex, (kp = await Secp256k1Keypair.import(secret)));
      return kp.sign(msg);
    },
  });
  const ours = new Map<string, Secp256k1Signer>();
  list.push({
    name: `src/crypto Secp256k1Signer (${secp256k1Backend})`,
    load: (secret) => Secp256k1Signer.fromSecret(secret, { exportable: false }),
    sign(msg, secret) {
      const hex = Buffer.from(secret).toString("hex");
      let s = ours.get(hex);
      if (!s) ours.set(hex, (s = Secp256k1Signer.fromSecret(secret, { exportable: false })));
      return s.sign(msg);
    },
  });
  const curves = await optional("@noble/curves/secp256k1.js");
  if (curves) {
    const { secp256k1 } = curves;
    secp256k1.Point.BASE.precompute(8, false);
    list.push({
      name: "@noble/curves (precompute 8, eager)",
      load: (secret) => secp256k1.getPublicKey(secret),
      sign(msg, secret) {
        // 2.x returns the compact bytes, 1.x a Signature object.
        const sig = secp256k1.sign(sha256(msg), secret, { prehash: false, lowS: true });
        return sig instanceof Uint8Array ? sig : sig.toCompactRawBytes();
      },
    });
  }
  const noble = await optional("@noble/secp256k1");
  if (noble?.hashes) {
    noble.hashes.sha256 = sha256;
    noble.hashes.hmacSha256 = (key: Uint8Array, msg: Uint8Array) => createHmac("sha256", key).update(msg).digest();
    list.push({
      name: "@noble/secp256k1 3.x (node:crypto HMAC)",
      load: (secret) => noble.getPublicKey(secret),
      sign: (msg, secret) => noble.sign(sha256(msg), secret, { prehash: false }),
    });
  } else if (noble?.signSync) {
    noble.utils.hmacSha256Sync = (key: Uint8Array, ...msgs: Uint8Array[]) => {
      const h = createHmac("sha256", key);
      for (const m of msgs) h.update(m);
      return h.digest();
    };
    list.push({
      name: "@noble/secp256k1 1.x (node:crypto HMAC)",
      load: (secret) => noble.getPublicKey(secret),
      sign: (msg, secret) => noble.signSync(sha256(msg), secret, { der: false }),
    });
  }
  const tiny = await optional("tiny-secp256k1");
  if (tiny) list.push({ name: "tiny-secp256k1 (wasm)", load: (secret) => tiny.pointFromScalar(secret, true), sign: (msg, secret) => tiny.sign(sha256(msg), secret) });
  return list;
}

async function timeEach(count: number, run: (i: number) => unknown): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await run(i);
  return ((performance.now() - started) * 1000) / count;
}

async function main() {
  const secrets = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(32)));
  const messages = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(COMMIT_BYTES)));
  const importSecrets = Array.from({ length: IMPORTS }, () => new Uint8Array(randomBytes(32)));
  const reference = await Secp256k1Keypair.import(secrets[0]!);
  const expected = Buffer.from(await reference.sign(messages[0]!));
  console.log(`${SIGNATURES} signatures of ${COMMIT_BYTES}-byte messages, ${IMPORTS} key imports, bun ${Bun.version}`);
  console.log(`${"candidate".padEnd(46)} ${"sign µs".padStart(8)} ${"import µs".padStart(10)}`);
  for (const c of await candidates()) {
    const got = Buffer.from(await c.sign(messages[0]!, secrets[0]!));
    if (!got.equals(expected)) throw new Error(`${c.name}: signature differs from @atproto/crypto`);
    await timeEach(300, (i) => c.sign(messages[i & 63]!, secrets[i & 7]!)); // warm-up
    const sign = await timeEach(SIGNATURES, (i) => c.sign(messages[i & 63]!, secrets[i & 7]!));
    const load = await timeEach(IMPORTS, (i) => c.load(importSecrets[i]!));
    console.log(`${c.name.padEnd(46)} ${sign.toFixed(1).padStart(8)} ${load.toFixed(1).padStart(10)}`);
  }
}

await main();
